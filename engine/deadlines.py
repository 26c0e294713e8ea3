"""Every coming deadline: each running commitment's next follow-up due date, each agreement's next revision.

The read model of the calendar export (notifications.calendar_export). Whether a
deadline is still coming is a question of the agreement's local date: at 00:30 on
1 April in Stockholm, a deadline of 31 March has passed, though it is still 31 March
in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from engine.models import AgreementRow, Commitment, EffortRow, PartyRow, UnitRow
from rules import lifecycle
from rules.errors import InvalidValue


@dataclass(frozen=True, kw_only=True)
class FollowUpDeadline:
    commitment: str
    period: int
    party: str
    effort: str  # the insats's title
    unit: str  # the responsible unit's name
    due: date


@dataclass(frozen=True, kw_only=True)
class RevisionDeadline:
    agreement: str
    title: str
    number: int
    due: date


@dataclass(frozen=True, kw_only=True)
class Deadlines:
    follow_ups: tuple[FollowUpDeadline, ...]  # by due date, then commitment
    revisions: tuple[RevisionDeadline, ...]  # by agreement
    # The agreements' time zone when they share one (the calendar's X-WR-TIMEZONE), else None.
    timezone: str | None = None


def _local_today(zones: dict[str, ZoneInfo], timezone: str, now: datetime) -> date:
    zone = zones.setdefault(timezone, ZoneInfo(timezone))
    return now.astimezone(zone).date()


def coming_deadlines(
    session: Session, *, now: datetime, unit: str | None = None, party: str | None = None
) -> Deadlines:
    """The deadlines on or after today, each agreement's today; ``unit`` or ``party`` narrows the follow-ups.

    The revisions are every party's, so they are listed whatever the filter.
    """
    if unit is not None and session.scalar(select(UnitRow.id).where(UnitRow.id == unit).limit(1)) is None:
        known = ", ".join(sorted(set(session.scalars(select(UnitRow.id)))))
        raise InvalidValue("unit", f"okänd enhet '{unit}' (enheter: {known})")
    if party is not None and session.scalar(select(PartyRow.id).where(PartyRow.id == party).limit(1)) is None:
        known = ", ".join(sorted(set(session.scalars(select(PartyRow.id)))))
        raise InvalidValue("party", f"okänd part '{party}' (parter: {known})")
    stmt = (
        select(Commitment, EffortRow.title, UnitRow.name, AgreementRow.timezone)
        .join(EffortRow, and_(EffortRow.agreement_id == Commitment.agreement_id, EffortRow.id == Commitment.effort_id))
        .join(UnitRow, and_(UnitRow.agreement_id == Commitment.agreement_id, UnitRow.id == Commitment.responsible))
        .join(AgreementRow, AgreementRow.id == Commitment.agreement_id)
        .where(Commitment.state != lifecycle.AVSLUTAD, Commitment.next_due.is_not(None))
        .order_by(Commitment.next_due, Commitment.id)
    )
    if unit is not None:
        stmt = stmt.where(Commitment.responsible == unit)
    if party is not None:
        stmt = stmt.where(Commitment.party == party)
    zones: dict[str, ZoneInfo] = {}
    follow_ups = []
    for c, title, unit_name, timezone in session.execute(stmt):
        assert c.next_due is not None
        if c.next_due < _local_today(zones, timezone, now):
            continue
        follow_ups.append(
            FollowUpDeadline(
                commitment=c.id, period=c.period, party=c.party, effort=title, unit=unit_name, due=c.next_due
            )
        )
    revisions = []
    agreements = list(session.scalars(select(AgreementRow).order_by(AgreementRow.id)))
    shared = {a.timezone for a in agreements}
    for a in agreements:
        # A terminated agreement is not revised again.
        if a.terminates is not None or a.revision_due is None:
            continue
        if a.revision_due < _local_today(zones, a.timezone, now):
            continue
        revisions.append(RevisionDeadline(agreement=a.id, title=a.title, number=a.revision_number, due=a.revision_due))
    return Deadlines(
        follow_ups=tuple(follow_ups), revisions=tuple(revisions), timezone=shared.pop() if len(shared) == 1 else None
    )
