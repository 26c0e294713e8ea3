"""The web's read model for corrections: which recorded follow-ups a person may correct now, and until when.

``who`` is the signed-in person, or None for the holder of the unit's link from its
mail. The rule is engine.corrections's (the process owner at any time, the unit within
its window); the same rule refuses the correction itself in ``commands.correct_follow_up``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, select

from engine import corrections, db, service
from engine.db import Database
from engine.models import AgreementRow, Commitment, EffortRow, FollowUp, PartyRow, UnitRow
from engine.users import Person


@dataclass(frozen=True, kw_only=True)
class Correctable:
    period: int
    version: int  # the latest version, the one a correction replaces
    last_day: date  # the unit's last day to correct it itself, in the agreement's zone
    unit_may: bool  # the unit's window is still open
    may_correct: bool  # ``who`` may correct it now


def correctable(
    database: Database, key: str, *, who: Person | None, now: datetime, days: int, period: int | None = None
) -> dict[int, Correctable]:
    """Every recorded period of the commitment (or just ``period``) with what ``who`` may do with it.

    A person who may not see the commitment gets nothing.
    """
    with db.transaction(database) as session:
        c = service.resolve_commitment(session, key)
        if who is not None and not who.may_see(c):
            return {}
        if period is None:
            periods = sorted(set(session.scalars(select(FollowUp.period).where(FollowUp.commitment_id == c.id))))
        else:
            periods = [period]
        out = {}
        for p in periods:
            w = corrections.window(session, c, p, now=now, days=days)
            if w is not None:
                out[p] = Correctable(
                    period=p,
                    version=w.version,
                    last_day=w.last_day,
                    unit_may=w.open,
                    may_correct=corrections.may_correct(who, c, w),
                )
        return out


@dataclass(frozen=True, kw_only=True)
class MyCorrectable:
    """A follow-up the recipient reported and may still correct through a link."""

    commitment: str
    agreement_title: str
    effort: str
    party_name: str
    period: int
    recorded_at: datetime
    last_day: date


def my_correctable(database: Database, email: str, *, now: datetime, days: int) -> tuple[MyCorrectable, ...]:
    """The follow-ups of the units with address ``email`` whose correction window is open now (Mina uppföljningar)."""
    address = email.strip().lower()
    stmt = (
        select(Commitment, FollowUp.period, AgreementRow.title, EffortRow.title)
        # Each period's first recording, recently enough that its window may still be open
        # (the exact local-date rule is corrections.window's).
        .join(FollowUp, and_(FollowUp.commitment_id == Commitment.id, FollowUp.version == 1))
        .join(AgreementRow, AgreementRow.id == Commitment.agreement_id)
        .join(EffortRow, and_(EffortRow.agreement_id == Commitment.agreement_id, EffortRow.id == Commitment.effort_id))
        .join(UnitRow, and_(UnitRow.agreement_id == Commitment.agreement_id, UnitRow.id == Commitment.responsible))
        .where(func.lower(UnitRow.email) == address, FollowUp.recorded_at >= now - timedelta(days=days + 2))
    )
    items = []
    with db.transaction(database) as session:
        for c, period, agreement_title, effort in session.execute(stmt):
            w = corrections.window(session, c, period, now=now, days=days)
            if w is None or not w.open:
                continue
            party = session.get(PartyRow, (c.agreement_id, c.party))
            items.append(
                MyCorrectable(
                    commitment=c.id,
                    agreement_title=agreement_title,
                    effort=effort,
                    party_name=party.name if party is not None else c.party,
                    period=period,
                    recorded_at=w.first_recorded,
                    last_day=w.last_day,
                )
            )
    items.sort(key=lambda i: (i.last_day, i.commitment, i.period))
    return tuple(items)
