"""Every coming deadline: each live commitment's next follow-up due date, each agreement's next revision.

Where a follow-up's due date comes from: the calendar's date for the period
(rules.calendar.follow_up_due), unless the process owner granted an extension (anstånd,
engine.extensions) for that commitment and period. ``stored_due`` decides it whenever
``commitments.next_due`` is written (a move at the tick or by hand, a plan load, a grant),
and every reader follows that column: the rules' reminders and overdue notices (through
``CommitmentView.due``), the overdue review, the pages, ``next_report_of`` (the status,
the calendar export, the mail attachments) and the withdrawal of what a new date replaced.

The read model of the calendar export (notifications.calendar_export) and of the status's
"next follow-up" (engine.service.status): both ask ``next_report``, so after a report they
name the next period's due date, not the one just reported. Whether a deadline is still
coming is a question of the agreement's local date: at 00:30 on 1 April in Stockholm, a
deadline of 31 March has passed, though it is still 31 March in UTC.

``done_*`` are the deadlines met since an event for them went out, whose day is still
ahead in someone's calendar: a follow-up whose report queued a ``calendar_cancel``, a
completed revision whose event a mail or export carried (engine.calendar_events). The
export carries them as cancelled, beside the next period's event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, and_, select
from sqlalchemy.orm import Session

from engine.calendar_events import known, revision_uid
from engine.models import (
    AgreementRow,
    Commitment,
    DueExtension,
    EffortRow,
    OutboxRow,
    PartyRow,
    Revision,
    UnitRow,
)
from rules import lifecycle
from rules.calendar import SwedishCalendar
from rules.dates import next_report
from rules.errors import InvalidValue


@dataclass(frozen=True, kw_only=True)
class FollowUpDeadline:
    commitment: str
    period: int
    party: str
    effort: str  # the insats's title
    unit: str  # the responsible unit's name
    due: date
    agreement_title: str
    owner_email: str  # the process owner's address: the event's ORGANIZER
    timezone: str  # the agreement's: whether an alarm has already rung is a matter of its date


@dataclass(frozen=True, kw_only=True)
class RevisionDeadline:
    agreement: str
    title: str
    number: int
    due: date
    owner_email: str
    timezone: str


@dataclass(frozen=True, kw_only=True)
class Deadlines:
    follow_ups: tuple[FollowUpDeadline, ...]  # by due date, then commitment
    revisions: tuple[RevisionDeadline, ...]  # by agreement
    # The agreements' time zone when they share one (the calendar's X-WR-TIMEZONE), else None.
    timezone: str | None = None
    # Met since their event went out, their event still ahead: the export cancels them.
    done_follow_ups: tuple[FollowUpDeadline, ...] = ()
    done_revisions: tuple[RevisionDeadline, ...] = ()


X = cast(Table, DueExtension.__table__)


def extended_dues(conn: Connection, commitments: Iterable[str]) -> dict[tuple[str, int], date]:
    """The extension that applies per (commitment, period) among ``commitments``: the latest grant."""
    ids = sorted(set(commitments))
    out: dict[tuple[str, int], date] = {}
    for i in range(0, len(ids), 500):
        rows = conn.execute(
            select(X.c.commitment_id, X.c.period, X.c.due)
            .where(X.c.commitment_id.in_(ids[i : i + 500]))
            .order_by(X.c.id)
        )
        for cid, period, due in rows:
            out[(cid, period)] = due  # in grant order: the last one wins
    return out


def stored_due(
    extended: dict[tuple[str, int], date], commitment: str, period: int, regular: date | None
) -> date | None:
    """What ``commitments.next_due`` says for ``period``: its extension, else ``regular``; None once ended."""
    if regular is None:
        return None
    return extended.get((commitment, period), regular)


def _local_today(zones: dict[str, ZoneInfo], timezone: str, now: datetime) -> date:
    zone = zones.setdefault(timezone, ZoneInfo(timezone))
    return now.astimezone(zone).date()


def last_period(effort_ends: date | None, valid_to: date | None) -> int | None:
    """The last period followed up: the year the timeframe or a fixed term ends (rules.dates.last_period)."""
    ends = [d.year for d in (effort_ends, valid_to) if d is not None]
    return min(ends) if ends else None


def next_report_of(
    c: Commitment, agreement: AgreementRow, effort_ends: date | None, cal: SwedishCalendar | None = None
) -> tuple[int, date] | None:
    """``rules.dates.next_report`` for a stored commitment: the period asked for next and its due date.

    The open period's date is the stored one (``next_due``), so a granted extension
    (engine.extensions) moves the status, the calendar export and the mail attachments alike.
    """
    return next_report(
        c.state,
        c.period,
        last=last_period(effort_ends, agreement.valid_to),
        terminates=agreement.terminates,
        due_md=agreement.schedule["follow_up"]["due"],
        cal=cal or SwedishCalendar(),
        due=c.next_due,
    )


def _check_filters(session: Session, unit: str | None, party: str | None) -> None:
    if unit is not None and session.scalar(select(UnitRow.id).where(UnitRow.id == unit).limit(1)) is None:
        known_units = ", ".join(sorted(set(session.scalars(select(UnitRow.id)))))
        raise InvalidValue("unit", f"okänd enhet '{unit}' (enheter: {known_units})")
    if party is not None and session.scalar(select(PartyRow.id).where(PartyRow.id == party).limit(1)) is None:
        known_parties = ", ".join(sorted(set(session.scalars(select(PartyRow.id)))))
        raise InvalidValue("party", f"okänd part '{party}' (parter: {known_parties})")


def coming_deadlines(
    session: Session, *, now: datetime, unit: str | None = None, party: str | None = None
) -> Deadlines:
    """The deadlines on or after today, each agreement's today; ``unit`` or ``party`` narrows the follow-ups.

    The revisions are every party's, so they are listed whatever the filter.
    """
    _check_filters(session, unit, party)
    agreements = {a.id: a for a in session.scalars(select(AgreementRow).order_by(AgreementRow.id))}
    owners = {
        a.id: email
        for a, email in session.execute(
            select(AgreementRow, UnitRow.email).join(
                UnitRow, and_(UnitRow.agreement_id == AgreementRow.id, UnitRow.id == AgreementRow.process_owner)
            )
        )
    }
    stmt = (
        select(Commitment, EffortRow.title, EffortRow.ends, UnitRow.name)
        .join(EffortRow, and_(EffortRow.agreement_id == Commitment.agreement_id, EffortRow.id == Commitment.effort_id))
        .join(UnitRow, and_(UnitRow.agreement_id == Commitment.agreement_id, UnitRow.id == Commitment.responsible))
        .where(Commitment.state != lifecycle.AVSLUTAD, Commitment.next_due.is_not(None))
        .order_by(Commitment.id)
    )
    if unit is not None:
        stmt = stmt.where(Commitment.responsible == unit)
    if party is not None:
        stmt = stmt.where(Commitment.party == party)
    zones: dict[str, ZoneInfo] = {}
    cal = SwedishCalendar()
    follow_ups = []
    for c, title, ends, unit_name in session.execute(stmt):
        a = agreements[c.agreement_id]
        asked = next_report_of(c, a, ends, cal)
        if asked is None or asked[1] < _local_today(zones, a.timezone, now):
            continue
        follow_ups.append(
            FollowUpDeadline(
                commitment=c.id,
                period=asked[0],
                party=c.party,
                effort=title,
                unit=unit_name,
                due=asked[1],
                agreement_title=a.title,
                owner_email=owners.get(a.id, ""),
                timezone=a.timezone,
            )
        )
    follow_ups.sort(key=lambda f: (f.due, f.commitment))
    revisions = []
    for a in agreements.values():
        # A terminated agreement is not revised again.
        if a.terminates is not None or a.revision_due is None:
            continue
        if a.revision_due < _local_today(zones, a.timezone, now):
            continue
        revisions.append(
            RevisionDeadline(
                agreement=a.id,
                title=a.title,
                number=a.revision_number,
                due=a.revision_due,
                owner_email=owners.get(a.id, ""),
                timezone=a.timezone,
            )
        )
    shared = {a.timezone for a in agreements.values()}
    return Deadlines(
        follow_ups=tuple(follow_ups),
        revisions=tuple(revisions),
        timezone=shared.pop() if len(shared) == 1 else None,
        done_follow_ups=_done_follow_ups(session, now, agreements, owners, zones, unit, party),
        done_revisions=_done_revisions(session, now, agreements, owners, zones),
    )


def _done_follow_ups(
    session: Session,
    now: datetime,
    agreements: dict[str, AgreementRow],
    owners: dict[str, str],
    zones: dict[str, ZoneInfo],
    unit: str | None,
    party: str | None,
) -> tuple[FollowUpDeadline, ...]:
    """Recorded follow-ups whose event may be in a calendar, and whose day is still ahead.

    Exactly those for which the report queued a ``calendar_cancel`` (engine.calendar_events.
    cancellation: a reminder carrying the event was sent, or a mail or export stamped it);
    its data says the date the event carried.
    """
    stmt = (
        select(OutboxRow.data, OutboxRow.period, Commitment, EffortRow.title, UnitRow.name)
        .join(Commitment, Commitment.id == OutboxRow.commitment_id)
        .join(EffortRow, and_(EffortRow.agreement_id == Commitment.agreement_id, EffortRow.id == Commitment.effort_id))
        .join(UnitRow, and_(UnitRow.agreement_id == Commitment.agreement_id, UnitRow.id == Commitment.responsible))
        .where(OutboxRow.kind == "calendar_cancel", OutboxRow.period.is_not(None))
        .order_by(OutboxRow.id)
    )
    if unit is not None:
        stmt = stmt.where(Commitment.responsible == unit)
    if party is not None:
        stmt = stmt.where(Commitment.party == party)
    out: dict[tuple[str, int], FollowUpDeadline] = {}
    for data, period, c, title, unit_name in session.execute(stmt):
        a = agreements[c.agreement_id]
        due = date.fromisoformat(str(data["due"]))  # the date the event carried
        if due < _local_today(zones, a.timezone, now):
            continue
        out[(c.id, period)] = FollowUpDeadline(
            commitment=c.id,
            period=period,
            party=c.party,
            effort=title,
            unit=unit_name,
            due=due,
            agreement_title=a.title,
            owner_email=owners.get(a.id, ""),
            timezone=a.timezone,
        )
    return tuple(sorted(out.values(), key=lambda f: (f.due, f.commitment)))


def _done_revisions(
    session: Session,
    now: datetime,
    agreements: dict[str, AgreementRow],
    owners: dict[str, str],
    zones: dict[str, ZoneInfo],
) -> tuple[RevisionDeadline, ...]:
    """Completed revisions whose event some mail or export carried and whose day is still ahead."""
    rows = session.execute(
        select(Revision.agreement_id, Revision.number)
        .where(Revision.completed_at.is_not(None))
        .order_by(Revision.agreement_id, Revision.number)
    ).all()
    events = known(session, [revision_uid(aid, n) for aid, n in rows])
    out = []
    for aid, number in rows:
        event = events.get(revision_uid(aid, number))
        a = agreements[aid]
        if event is None or event.due < _local_today(zones, a.timezone, now):
            continue
        out.append(
            RevisionDeadline(
                agreement=aid,
                title=a.title,
                number=number,
                due=event.due,
                owner_email=owners.get(aid, ""),
                timezone=a.timezone,
            )
        )
    return tuple(out)
