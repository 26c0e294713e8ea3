"""The engine API that the CLI, the web and the rules' applier all call.

Every function takes the session of the caller's transaction and an explicit
``now``; nothing here reads the clock or commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import lifecycle
from engine.errors import InvalidValue, NotFound
from engine.models import AgreementRow, AreaRow, Commitment, EffortRow, TransitionRecord, UnitRow
from rules.calendar import SwedishCalendar


def _require_text(where: str, value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidValue(where, "får inte vara tomt")
    return value


def resolve_commitment(session: Session, key: str, *, lock: bool = False) -> Commitment:
    """A commitment by full id (``boras.trafik.kommun``) or, if unambiguous, ``trafik.kommun``."""
    key = key.strip()
    stmt = select(Commitment).where(Commitment.id == key)
    if lock:
        stmt = stmt.with_for_update()
    found = session.scalars(stmt).first()
    if found is not None:
        return found
    matches = list(session.scalars(select(Commitment.id).where(Commitment.id.endswith("." + key))))
    if len(matches) == 1:
        return resolve_commitment(session, matches[0], lock=lock)
    if len(matches) > 1:
        raise NotFound("åtagande", key, "flera träffar: " + ", ".join(sorted(matches)))
    raise NotFound("åtagande", key, "se 'samverkan status' för giltiga id")


def _timeframe_begun(session: Session, c: Commitment, now: datetime) -> bool:
    effort = session.get(EffortRow, (c.agreement_id, c.effort_id))
    agreement = session.get(AgreementRow, c.agreement_id)
    assert effort is not None and agreement is not None
    return effort.starts <= now.astimezone(ZoneInfo(agreement.timezone)).date()


def apply_transition(
    session: Session,
    c: Commitment,
    trigger: str,
    *,
    by: str,
    why: str,
    now: datetime,
    calendar: SwedishCalendar | None = None,
) -> TransitionRecord:
    """Move ``c`` by ``trigger`` and append the history row, or raise and write nothing."""
    by = _require_text("--by", by)
    why = _require_text("--why", why)
    begun = _timeframe_begun(session, c, now) if trigger == "reinstate" else True
    new_state = lifecycle.next_state(c.id, c.state, trigger, timeframe_begun=begun)
    record = TransitionRecord(
        commitment_id=c.id, at=now, trigger=trigger, from_state=c.state, to_state=new_state, by=by, why=why
    )
    c.state = new_state
    c.state_since = now
    if trigger == "new_period":
        c.period += 1
    if new_state == lifecycle.AVSLUTAD:
        c.next_due = None
    elif trigger == "new_period":
        agreement = session.get(AgreementRow, c.agreement_id)
        assert agreement is not None
        due_md = agreement.document["schedule"]["follow_up"]["due"]
        c.next_due = (calendar or SwedishCalendar()).follow_up_due(c.period, due_md)
    session.add(record)
    session.flush()
    return record


def transition(session: Session, key: str, trigger: str, *, by: str, why: str, now: datetime) -> TransitionRecord:
    """Fire ``trigger`` (as a person typed it) on the commitment named ``key``."""
    trigger = lifecycle.parse_trigger(trigger)
    c = resolve_commitment(session, key, lock=True)
    return apply_transition(session, c, trigger, by=by, why=why, now=now)


@dataclass(frozen=True, kw_only=True)
class StatusRow:
    id: str
    agreement: str
    area: str
    area_number: int
    effort: str
    party: str
    responsible: str
    responsible_name: str
    email: str
    state: str
    period: int
    next_due: date | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "agreement": self.agreement,
            "area": self.area,
            "effort": self.effort,
            "party": self.party,
            "responsible": self.responsible,
            "responsible_name": self.responsible_name,
            "email": self.email,
            "state": self.state,
            "period": self.period,
            "next_due": self.next_due.isoformat() if self.next_due else None,
        }


def status(
    session: Session,
    *,
    party: str | None = None,
    unit: str | None = None,
    state: str | None = None,
) -> list[StatusRow]:
    """Every commitment (optionally filtered), in plan order."""
    stmt = (
        select(Commitment, EffortRow, AreaRow, UnitRow)
        .join(EffortRow, (EffortRow.agreement_id == Commitment.agreement_id) & (EffortRow.id == Commitment.effort_id))
        .join(AreaRow, (AreaRow.agreement_id == EffortRow.agreement_id) & (AreaRow.id == EffortRow.area_id))
        .join(UnitRow, (UnitRow.agreement_id == Commitment.agreement_id) & (UnitRow.id == Commitment.responsible))
        .order_by(Commitment.agreement_id, AreaRow.number, EffortRow.position, Commitment.party)
    )
    if party is not None:
        known = set(session.scalars(select(Commitment.party).distinct()))
        if party not in known:
            raise InvalidValue("--party", f"okänd part '{party}' (parter: {', '.join(sorted(known))})")
        stmt = stmt.where(Commitment.party == party)
    if unit is not None:
        known = set(session.scalars(select(UnitRow.id).distinct()))
        if unit not in known:
            raise InvalidValue("--unit", f"okänd enhet '{unit}' (enheter: {', '.join(sorted(known))})")
        stmt = stmt.where(Commitment.responsible == unit)
    if state is not None:
        stmt = stmt.where(Commitment.state == lifecycle.parse_state(state))
    return [
        StatusRow(
            id=c.id,
            agreement=c.agreement_id,
            area=a.title,
            area_number=a.number,
            effort=e.title,
            party=c.party,
            responsible=c.responsible,
            responsible_name=u.name,
            email=u.email,
            state=c.state,
            period=c.period,
            next_due=c.next_due,
        )
        for c, e, a, u in session.execute(stmt)
    ]


def history(session: Session, key: str) -> tuple[Commitment, list[TransitionRecord]]:
    c = resolve_commitment(session, key)
    rows = list(
        session.scalars(
            select(TransitionRecord).where(TransitionRecord.commitment_id == c.id).order_by(TransitionRecord.id)
        )
    )
    return c, rows
