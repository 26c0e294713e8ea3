"""The revision's commands in forms: every decision at once, the revised plan's draft, its adoption.

As in ``engine.api.commands`` (kept apart only for its length): one transaction each, frozen
values out, a refusal has written nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from engine import db, drafts, revisions
from engine.api.commands import Decided
from engine.db import Database

# Re-exported: the edges may not import engine.revisions, and they name the revision's result and refusal.
from engine.revisions import Completed as Completed
from engine.revisions import DecisionsInvalid as DecisionsInvalid


def decide_all(
    database: Database, agreement: str, rows: list[tuple[str, str, str]], *, by: str, now: datetime
) -> tuple[Decided, ...]:
    """The revision's decision form: (commitment, decision, text) per row; one bad row and nothing is recorded."""
    with db.transaction(database) as session:
        done = revisions.decide_all(session, agreement, rows, by=by, now=now)
        return tuple(Decided(commitment=d.commitment_id, decision=d.decision, text=d.text) for d in done)


@dataclass(frozen=True, kw_only=True)
class DraftSaved:
    agreement: str
    # The draft's plan diff against the current version after the edit (what adopting it would list).
    changes: tuple[str, ...]


def _draft_saved(agreement: str, built: drafts.Built) -> DraftSaved:
    return DraftSaved(agreement=agreement, changes=tuple(built.changes))


def edit_draft_effort(
    database: Database, agreement: str, effort: str, values: Mapping[str, str], *, by: str, now: datetime
) -> DraftSaved:
    """One effort of the revised plan changed in its form (engine.drafts); refused: nothing is kept."""
    with db.transaction(database) as session:
        return _draft_saved(agreement, drafts.edit_effort(session, agreement, effort, values, by=by, now=now))


def add_draft_effort(
    database: Database, agreement: str, values: Mapping[str, str], *, by: str, now: datetime
) -> DraftSaved:
    with db.transaction(database) as session:
        return _draft_saved(agreement, drafts.add_effort(session, agreement, values, by=by, now=now))


def drop_draft_effort(database: Database, agreement: str, effort: str, *, by: str, now: datetime) -> None:
    with db.transaction(database) as session:
        drafts.drop_added(session, agreement, effort, by=by, now=now)


def set_draft_term(
    database: Database, agreement: str, values: Mapping[str, str], *, by: str, now: datetime
) -> DraftSaved:
    with db.transaction(database) as session:
        return _draft_saved(agreement, drafts.set_term(session, agreement, values, by=by, now=now))


def discard_draft(database: Database, agreement: str, *, by: str, now: datetime) -> None:
    with db.transaction(database) as session:
        drafts.discard(session, agreement, by=by, now=now)


def adopt_draft(database: Database, agreement: str, *, reviewed: str, by: str, now: datetime) -> Completed:
    """Complete the revision with the draft: the upload's path (revisions.complete) with the draft's document."""
    with db.transaction(database) as session:
        return drafts.adopt(session, agreement, reviewed=reviewed, by=by, now=now)
