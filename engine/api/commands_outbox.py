"""Gallring of the outbox: old notices into an archive file, then out of the database.

As in ``engine.api.commands`` (kept apart for its length): one transaction, frozen values
out, a refusal has written nothing. The rules (what may go, the archive, a crash) are
engine.prune's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from engine import prune
from engine.db import Database
from rules.errors import InvalidValue
from rules.texts import DEFAULT_ZONE, datum


@dataclass(frozen=True, kw_only=True)
class Gone:
    """One kind of notice in one state: how many, and the first and last send (or due) instant."""

    kind: str
    state: str
    count: int
    first: datetime
    last: datetime


@dataclass(frozen=True, kw_only=True)
class Pruned:
    before: date
    archive: str
    dry_run: bool
    # The archive existed: only its rows still in the outbox were (or, dry, would be) removed.
    resumed: bool
    wrote: bool  # this run wrote the archive file
    archived: int  # notices in the archive file
    removed: int  # rows deleted from the outbox by this run
    gone: tuple[Gone, ...]  # what was (dry: would be) removed, per kind and state

    @property
    def total(self) -> int:
        return sum(g.count for g in self.gone)


def prune_outbox(
    database: Database,
    *,
    before: date,
    archive: Path,
    now: datetime,
    dry_run: bool = False,
    batch: int = prune.BATCH,
    drill: prune.Drill | None = None,
) -> Pruned:
    """Move the outbox's old sent, withdrawn and shown failed notices to ``archive``; see engine.prune.

    ``before`` may not be after ``now``'s date: gallring is of what is already past.
    """
    if before > now.astimezone(DEFAULT_ZONE).date():
        raise InvalidValue("before", f"{datum(before)} ligger efter dagens datum; gallra bara det som har varit")
    if batch < 1:
        raise InvalidValue("batch", "ska vara minst 1")
    out = prune.prune(database, before=before, archive=archive, now=now, dry_run=dry_run, batch=batch, drill=drill)
    gone = tuple(
        Gone(kind=kind, state=state, count=n, first=first, last=last)
        for (kind, state), (n, first, last) in sorted(out.tally.counts.items())
    )
    return Pruned(
        before=before,
        archive=str(archive),
        dry_run=dry_run,
        resumed=out.resumed,
        wrote=out.wrote,
        archived=out.archived,
        removed=out.removed,
        gone=gone,
    )
