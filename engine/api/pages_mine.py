"""The web's read model behind a recipient's own link: *Mina uppföljningar*.

The link names an e-mail address, not a person: whoever holds it sees every follow-up
that may be recorded now for the commitments whose responsible unit has that address,
in every agreement of the database. An address is compared without case. Whether a
follow-up may be recorded now is ``engine.api.pages.recordable``, the rule the
commitment page and the follow-up form use. Each call opens its own transaction and
returns frozen values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, select

from engine import db
from engine.api.pages import Contact, recordable, today_in
from engine.db import Database
from engine.models import AgreementRow, Commitment, EffortRow, PartyRow, UnitRow
from rules import lifecycle
from rules.model import Schedule


@dataclass(frozen=True, kw_only=True)
class MyFollowUp:
    """One follow-up the recipient may report now."""

    commitment: str
    agreement_id: str
    agreement_title: str
    effort: str  # the insats's title
    party_name: str
    unit_name: str  # the responsible unit (an address may serve several)
    period: int
    due: date | None
    days_left: int | None  # negative: days late; in the agreement's local date


@dataclass(frozen=True, kw_only=True)
class MyFollowUps:
    email: str  # lowercased
    items: tuple[MyFollowUp, ...]  # the earliest due first


def my_follow_ups(database: Database, email: str, *, now: datetime) -> MyFollowUps:
    """Every follow-up the units with address ``email`` may record now, across all agreements."""
    address = email.strip().lower()
    stmt = (
        select(Commitment, AgreementRow, EffortRow.title, PartyRow.name, UnitRow.name)
        .join(AgreementRow, AgreementRow.id == Commitment.agreement_id)
        .join(EffortRow, and_(EffortRow.agreement_id == Commitment.agreement_id, EffortRow.id == Commitment.effort_id))
        .join(UnitRow, and_(UnitRow.agreement_id == Commitment.agreement_id, UnitRow.id == Commitment.responsible))
        .outerjoin(PartyRow, and_(PartyRow.agreement_id == Commitment.agreement_id, PartyRow.id == Commitment.party))
        .where(Commitment.state == lifecycle.PAGAENDE, func.lower(UnitRow.email) == address)
    )
    items = []
    with db.transaction(database) as session:
        schedules: dict[str, tuple[Schedule, date]] = {}
        for c, agreement, effort, party, unit in session.execute(stmt):
            if agreement.id not in schedules:
                schedule = Schedule.from_settings(agreement.timezone, agreement.schedule)
                schedules[agreement.id] = (schedule, today_in(agreement.timezone, now))
            schedule, today = schedules[agreement.id]
            if not recordable(session, c, schedule, today):
                continue
            items.append(
                MyFollowUp(
                    commitment=c.id,
                    agreement_id=agreement.id,
                    agreement_title=agreement.title,
                    effort=effort,
                    party_name=party if party is not None else c.party,
                    unit_name=unit,
                    period=c.period,
                    due=c.next_due,
                    days_left=(c.next_due - today).days if c.next_due is not None else None,
                )
            )
    items.sort(key=lambda i: (i.due is None, i.due or date.max, i.agreement_id, i.commitment))
    return MyFollowUps(email=address, items=tuple(items))


def process_owners_for(database: Database, email: str) -> tuple[Contact, ...]:
    """Whom to ask when a recipient's link has expired: the process owners of the agreements
    in which ``email`` is a unit's address (none when it is no unit's)."""
    address = email.strip().lower()
    with db.transaction(database) as session:
        ids = sorted(set(session.scalars(select(UnitRow.agreement_id).where(func.lower(UnitRow.email) == address))))
        owners = session.execute(
            select(UnitRow.name, UnitRow.email)
            .join(
                AgreementRow,
                and_(AgreementRow.id == UnitRow.agreement_id, AgreementRow.process_owner == UnitRow.id),
            )
            .where(UnitRow.agreement_id.in_(ids))
            .order_by(UnitRow.agreement_id)
        )
        seen: dict[str, Contact] = {}
        for name, mail in owners:
            seen.setdefault(mail.lower(), Contact(name=name, email=mail))
        return tuple(seen.values())
