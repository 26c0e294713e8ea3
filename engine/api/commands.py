"""Every change a person makes, as one transaction each: what the CLI and the web call.

Each command opens its transaction on ``db``, calls the engine function that holds
the rule (engine.service, engine.parties, engine.revisions, engine.plan, engine.users),
commits, and returns a frozen value that names what was queued. A refused command
raises a SamverkanError and has written nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import analysis, contacts, corrections, db, extensions, outbox, parties, revisions, service
from engine.agreement import Agreement
from engine.api.values import Move, move_of
from engine.db import Database
from engine.plan import load_plan as _load_plan
from engine.revisions import Completed
from engine.users import Person
from rules import deviation
from rules.errors import InvalidValue
from rules.model import QueueNotice


@dataclass(frozen=True, kw_only=True)
class PlanLoaded:
    agreement: str
    plan_version: int
    created: bool
    changes: tuple[str, ...]
    # On the first load: the first period the engine follows, its due date, and the next revision's deadline.
    first_period: int | None = None
    first_due: date | None = None
    revision_due: date | None = None


@dataclass(frozen=True, kw_only=True)
class FollowUpRecorded:
    commitment: str
    period: int
    version: int
    # The measures below their target in this follow-up (the process owner is told of each once).
    deviations: tuple[str, ...]
    queued: tuple[QueueNotice, ...]


@dataclass(frozen=True, kw_only=True)
class RevisionOpened:
    agreement: str
    number: int
    due: date
    queued: tuple[QueueNotice, ...]


@dataclass(frozen=True, kw_only=True)
class Decided:
    commitment: str
    decision: str
    text: str


@dataclass(frozen=True, kw_only=True)
class PartyNoticeRecorded:
    agreement: str
    kind: str  # "change" or "termination"
    party: str
    commitments: tuple[str, ...]  # flagged for the next revision (changed conditions)
    effective: date | None
    queued: tuple[QueueNotice, ...]


@dataclass(frozen=True, kw_only=True)
class Closed:
    agreement: str
    ended: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class UnitChanged:
    agreement: str
    unit: str
    plan_version: int
    changes: tuple[str, ...]  # empty: the unit already had that name and address
    old_name: str
    new_name: str
    old_email: str
    new_email: str
    old_contact_name: str | None
    new_contact_name: str | None
    moved: int  # queued, unsent notices now addressed to the new address


def load_plan(database: Database, agreement: Agreement, *, now: datetime) -> PlanLoaded:
    """Load or update the plan (``samverkan init``); the first load also says where the engine takes over."""
    with db.transaction(database) as session:
        result = _load_plan(session, agreement, now=now)
        first = due = revision_due = None
        if result.created:
            first, due, revision_due = service.takeover(session, result.agreement_id)
    return PlanLoaded(
        agreement=result.agreement_id,
        plan_version=result.plan_version,
        created=result.created,
        changes=tuple(result.changes),
        first_period=first,
        first_due=due,
        revision_due=revision_due,
    )


def change_unit(
    database: Database,
    agreement: str,
    unit: str,
    *,
    name: str,
    email: str,
    by: str,
    now: datetime,
    contact_name: str | None = None,
) -> UnitChanged:
    """A unit's new name, e-mail and contact person (the units page): the next plan version, as an
    edited file loaded with init. ``contact_name`` None keeps it; empty text removes it."""
    with db.transaction(database) as session:
        c = contacts.change_unit(
            session, agreement, unit, name=name, email=email, by=by, now=now, contact_name=contact_name
        )
    return UnitChanged(
        agreement=c.agreement_id,
        unit=c.unit,
        plan_version=c.plan_version,
        changes=tuple(c.changes),
        old_name=c.old_name,
        new_name=c.new_name,
        old_email=c.old_email,
        new_email=c.new_email,
        old_contact_name=c.old_contact_name,
        new_contact_name=c.new_contact_name,
        moved=c.moved,
    )


def transition(database: Database, key: str, trigger: str, *, by: str, why: str, now: datetime) -> Move:
    with db.transaction(database) as session:
        r = service.transition(session, key, trigger, by=by, why=why, now=now)
        return move_of(r)


def record_follow_up(
    database: Database,
    key: str,
    *,
    period: int,
    values: dict[str, Any],
    comment: str,
    by: str,
    now: datetime,
    hours: float | None = None,
    replace: bool = False,
) -> FollowUpRecorded:
    """Record (or, with ``replace``, correct) a period's follow-up: pågående → uppföljd.

    Two recordings of the same period at once (a double-clicked link, the link and the
    CLI) both pass the service's "not yet recorded" check when neither has committed;
    the follow-up row's unique (commitment, period, version) lets one through. The other
    is refused as a later recording is: the period's follow-up is already recorded.
    """
    try:
        return _record_follow_up(
            database, key, period=period, values=values, comment=comment, by=by, now=now, hours=hours, replace=replace
        )
    except IntegrityError as exc:
        if not _follow_up_clash(exc):
            raise
    if replace:
        raise _corrected_meanwhile(key, period)
    # Asked again now that the winner has committed, the service refuses it in its own words
    # ("… registrerades redan <date>; rätta med --replace"), exactly as a second recording later.
    return _record_follow_up(
        database, key, period=period, values=values, comment=comment, by=by, now=now, hours=hours, replace=False
    )


def correct_follow_up(
    database: Database,
    key: str,
    *,
    period: int,
    version: int,
    values: dict[str, Any],
    comment: str,
    by: str,
    now: datetime,
    who: Person | None,
    window_days: int,
    hours: float | None = None,
) -> FollowUpRecorded:
    """Correct version ``version`` of a period's follow-up on the web: the next version, the earlier kept.

    ``who`` is the signed-in person, or None for the holder of the unit's link from its mail.
    The process owner may correct at any time, the unit only within ``window_days`` of the
    first recording (engine.corrections); a refusal has written nothing.
    """

    def allowed(session: Session) -> None:
        corrections.check(session, key, period, who=who, version=version, now=now, days=window_days)

    try:
        return _record_follow_up(
            database,
            key,
            period=period,
            values=values,
            comment=comment,
            by=by,
            now=now,
            hours=hours,
            replace=True,
            allowed=allowed,
        )
    except IntegrityError as exc:
        if not _follow_up_clash(exc):
            raise
    raise _corrected_meanwhile(key, period)


def _corrected_meanwhile(key: str, period: int) -> InvalidValue:
    return InvalidValue(
        "replace", f"{key}: uppföljningen för {period} rättades samtidigt av någon annan; se den och rätta igen"
    )


def _record_follow_up(
    database: Database,
    key: str,
    *,
    period: int,
    values: dict[str, Any],
    comment: str,
    by: str,
    now: datetime,
    hours: float | None,
    replace: bool,
    allowed: Callable[[Session], None] | None = None,
) -> FollowUpRecorded:
    with db.transaction(database) as session:
        if allowed is not None:
            allowed(session)
        record = service.record_follow_up(
            session, key, period=period, values=values, comment=comment, by=by, now=now, hours=hours, replace=replace
        )
        c = service.resolve_commitment(session, record.commitment_id)
        below = deviation.below_target(service.measures_for(session, c), c.party, record.values)
        return FollowUpRecorded(
            commitment=record.commitment_id,
            period=record.period,
            version=record.version,
            deviations=tuple(m["id"] for m in below),
            queued=tuple(outbox.queued(session)),
        )


FOLLOW_UP_VERSION_KEY = "uq_follow_ups_version"


def _follow_up_clash(exc: IntegrityError) -> bool:
    """Whether ``exc`` is the follow-up row's unique (commitment, period, version): another recording won."""
    diag = getattr(exc.orig, "diag", None)  # psycopg names the constraint
    if diag is not None:
        return getattr(diag, "constraint_name", None) == FOLLOW_UP_VERSION_KEY
    # SQLite names the columns instead.
    return "follow_ups.commitment_id, follow_ups.period, follow_ups.version" in str(exc.orig)


def open_revision(database: Database, *, by: str, now: datetime, agreement: str | None = None) -> RevisionOpened:
    with db.transaction(database) as session:
        rev = revisions.open_revision(session, by=by, now=now, agreement_id=agreement)
        queued = tuple(outbox.queued(session))
        return RevisionOpened(agreement=rev.agreement_id, number=rev.number, due=rev.due, queued=queued)


def decide(database: Database, key: str, decision: str, *, text: str, by: str, now: datetime) -> Decided:
    with db.transaction(database) as session:
        d = revisions.decide(session, key, decision.strip().lower(), text=text, by=by, now=now)
        return Decided(commitment=d.commitment_id, decision=d.decision, text=d.text)


def complete_revision(database: Database, new: Agreement, *, by: str, now: datetime) -> Completed:
    with db.transaction(database) as session:
        return revisions.complete(session, new, by=by, now=now)


def notify_change(
    database: Database,
    *,
    party: str,
    text: str,
    by: str,
    now: datetime,
    commitments: list[str] | None = None,
    agreement: str | None = None,
) -> PartyNoticeRecorded:
    with db.transaction(database) as session:
        event = parties.notify_change(
            session, party=party, text=text, by=by, now=now, commitments=commitments, agreement_id=agreement
        )
        return _party_notice(event, tuple(outbox.queued(session)))


def terminate(
    database: Database,
    *,
    party: str,
    effective: date,
    reason: str,
    by: str,
    now: datetime,
    agreement: str | None = None,
) -> PartyNoticeRecorded:
    with db.transaction(database) as session:
        event = parties.terminate(
            session, party=party, effective=effective, reason=reason, by=by, now=now, agreement_id=agreement
        )
        return _party_notice(event, tuple(outbox.queued(session)))


def _party_notice(event: Any, queued: tuple[QueueNotice, ...]) -> PartyNoticeRecorded:
    return PartyNoticeRecorded(
        agreement=event.agreement_id,
        kind=event.kind,
        party=event.party,
        commitments=tuple(event.commitments),
        effective=event.effective,
        queued=queued,
    )


def close(database: Database, *, by: str, why: str, now: datetime, agreement: str | None = None) -> Closed:
    with db.transaction(database) as session:
        ended = parties.close_agreement(session, by=by, why=why, now=now, agreement_id=agreement)
        chosen = service.agreement_for(session, agreement, lock=False)
        return Closed(agreement=chosen.id, ended=tuple(ended))


def grant_extension(
    database: Database, key: str, *, period: int, due: date, reason: str, by: str, now: datetime
) -> extensions.Granted:
    """An extension (anstånd) of a commitment's follow-up for ``period`` to ``due`` (engine.extensions.grant)."""
    with db.transaction(database) as session:
        return extensions.grant(session, key, period=period, due=due, reason=reason, by=by, now=now)


def remind_now(
    database: Database,
    *,
    by: str,
    now: datetime,
    commitment: str | None = None,
    agreement: str | None = None,
    unit: str | None = None,
) -> extensions.Reminded:
    """ "Påminn nu": an overdue notice, at once, for one late follow-up or every one of a unit (engine.extensions)."""
    with db.transaction(database) as session:
        return extensions.remind(session, by=by, now=now, commitment=commitment, agreement=agreement, unit=unit)


def save_analysis(
    database: Database,
    *,
    period: int,
    text: str,
    by: str,
    now: datetime,
    agreement: str | None = None,
    version: int | None = None,
) -> analysis.Saved:
    """The process owner's analysis and conclusions for the yearly report of ``period`` (engine.analysis.save).

    ``version``: the one the form was opened on (0: none yet), refused when another was saved
    since; None (the CLI's file) saves over whatever is there.
    """
    try:
        with db.transaction(database) as session:
            return analysis.save(
                session, agreement_id=agreement, period=period, text=text, by=by, now=now, version=version
            )
    except IntegrityError as exc:
        if not _analysis_clash(exc):
            raise
    raise InvalidValue("version", f"analysen för {period} sparades samtidigt av någon annan; läs den och spara igen")


def _analysis_clash(exc: IntegrityError) -> bool:
    """Whether ``exc`` is the analysis row's unique (agreement, period, version): another save won."""
    diag = getattr(exc.orig, "diag", None)
    if diag is not None:
        return getattr(diag, "constraint_name", None) == analysis.VERSION_KEY
    return "report_analyses.agreement_id, report_analyses.period, report_analyses.version" in str(exc.orig)
