"""The engine API that the CLI, the web and the rules' applier all call.

Every function takes the session of the caller's transaction and an explicit
``now``; nothing here reads the clock or commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine import lifecycle, outbox
from engine.errors import InvalidValue, NotFound
from engine.models import (
    AgreementRow,
    AreaRow,
    Commitment,
    EffortRow,
    FollowUp,
    OutboxRow,
    PartyEvent,
    PartyRow,
    TransitionRecord,
    UnitRow,
)
from rules import deviation
from rules.calendar import SwedishCalendar
from rules.model import NoticeKind, QueueNotice, Schedule
from rules.revision import nominal_due


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
    # The rules look at a moved commitment at the next tick; an ended one never again.
    c.next_check = None if new_state == lifecycle.AVSLUTAD else now
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


def _measures_for(session: Session, c: Commitment) -> list[dict[str, Any]]:
    effort = session.get(EffortRow, (c.agreement_id, c.effort_id))
    assert effort is not None
    return [m for m in effort.measures if not m.get("parties") or c.party in m["parties"]]


def _count_value(mid: str, value: Any) -> int:
    if isinstance(value, str):
        text = value.strip()
        # isdigit() alone admits "²" and other digits int() refuses; 18 digits stay an int64.
        if text.isascii() and text.isdigit() and len(text) <= 18:
            return int(text)
        raise InvalidValue("--value", f"'{mid}' ska vara ett heltal ≥ 0, inte {value!r}")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidValue("--value", f"'{mid}' ska vara ett heltal ≥ 0, inte {value!r}")
    return value


def check_values(measures: list[dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """The follow-up's values, checked against the commitment's measures.

    Every measure must be given; a count is a whole number ≥ 0 (text such as "3" is
    accepted from a form or the command line), a text measure is non-empty.
    """
    known = {m["id"]: m for m in measures}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InvalidValue("--value", f"okänt aktivitetsmått {', '.join(unknown)} (giltiga: {', '.join(known) or '-'})")
    out: dict[str, Any] = {}
    for mid, m in known.items():
        if mid not in values:
            raise InvalidValue("--value", f"aktivitetsmåttet '{mid}' saknas ({m['text']})")
        value = values[mid]
        if m.get("kind", "count") == "count":
            out[mid] = _count_value(mid, value)
        elif not isinstance(value, str) or not value.strip():
            raise InvalidValue("--value", f"'{mid}' ska vara en text som inte är tom")
        else:
            out[mid] = value.strip()
    return out


def latest_follow_up(session: Session, commitment_id: str, period: int) -> FollowUp | None:
    return session.scalars(
        select(FollowUp)
        .where(FollowUp.commitment_id == commitment_id, FollowUp.period == period)
        .order_by(FollowUp.version.desc())
        .limit(1)
    ).first()


def record_follow_up(
    session: Session,
    key: str,
    *,
    period: int,
    values: dict[str, Any],
    comment: str,
    by: str,
    now: datetime,
    hours: float | None = None,
    replace: bool = False,
    calendar: SwedishCalendar | None = None,
) -> FollowUp:
    """Record the follow-up of one period: pågående → uppföljd, deviations to the process owner.

    ``replace`` corrects a recorded follow-up: a new version is stored, the earlier one kept.
    """
    cal = calendar or SwedishCalendar()
    comment = _require_text("--comment", comment)
    by = _require_text("--by", by)
    if hours is not None and (hours < 0 or hours != hours):
        raise InvalidValue("--hours", f"ska vara ett tal ≥ 0, inte {hours}")
    c = resolve_commitment(session, key, lock=True)
    agreement = session.get(AgreementRow, c.agreement_id)
    assert agreement is not None
    schedule = Schedule.from_settings(agreement.timezone, agreement.schedule)
    today = now.astimezone(schedule.zone).date()
    existing = latest_follow_up(session, c.id, period)
    checked = check_values(_measures_for(session, c), values)
    if replace:
        if existing is None:
            raise InvalidValue("--replace", f"{c.id} har ingen uppföljning för {period} att rätta")
        version = existing.version + 1
    else:
        if existing is not None:
            when = existing.recorded_at.astimezone(schedule.zone).date().isoformat()
            raise InvalidValue(
                "--period", f"{c.id}: uppföljningen för {period} registrerades redan {when}; rätta med --replace"
            )
        if c.state == lifecycle.AVSLUTAD:
            raise InvalidValue("ÅTAGANDE", f"{c.id} är avslutat och följs inte upp")
        if c.state == lifecycle.PLANERAD:
            raise InvalidValue("ÅTAGANDE", f"{c.id} har inte startat (planerat)")
        if period != c.period:
            raise InvalidValue("--period", f"{c.id} följs nu upp för {c.period}, inte {period}")
        if today.year <= period:
            raise InvalidValue("--period", f"perioden {period} är inte slut förrän {period}-12-31")
        apply_transition(session, c, "follow_up", by=by, why=f"uppföljning {period} registrerad", now=now)
        version = 1
    record = FollowUp(
        commitment_id=c.id,
        period=period,
        version=version,
        values=checked,
        comment=comment,
        by=by,
        recorded_at=now,
        hours=hours,
    )
    session.add(record)
    owner = session.get(UnitRow, (c.agreement_id, agreement.process_owner))
    assert owner is not None
    notices = deviation.evaluate(
        commitment=c.id,
        agreement=c.agreement_id,
        period=period,
        party=c.party,
        values=checked,
        measures=_measures_for(session, c),
        owner_email=owner.email,
        now=now,
        s=schedule,
        cal=cal,
    )
    c.next_check = now  # the next tick decides what follows (end, new period)
    session.flush()
    outbox.queue(session.connection(), list(notices), now)
    return record


def complete_revision(session: Session, agreement_id: str, *, now: datetime) -> AgreementRow:
    """Close the open revision cycle; the next is due N years after this one's due date or today."""
    agreement = session.get(AgreementRow, agreement_id, with_for_update=True)
    if agreement is None:
        raise NotFound("överenskommelse", agreement_id)
    schedule = Schedule.from_settings(agreement.timezone, agreement.schedule)
    today = now.astimezone(schedule.zone).date()
    # Completed by its (working-day) due date, the cycle keeps its rhythm from signing;
    # completed late, the next one is counted from the day it was completed.
    on_time = today <= SwedishCalendar().next_working_day(agreement.revision_due)
    base = agreement.revision_due if on_time else today
    agreement.revision_number += 1
    agreement.revision_due = nominal_due(base, schedule.revision_every_years, agreement.valid_to)
    agreement.next_check = now
    session.flush()
    return agreement


def takeover(session: Session, agreement_id: str) -> tuple[int, date | None, date]:
    """The first period the engine follows up, its due date, and the next revision's due date."""
    agreement = session.get(AgreementRow, agreement_id)
    assert agreement is not None
    period, due = session.execute(
        select(func.min(Commitment.period), func.min(Commitment.next_due)).where(
            Commitment.agreement_id == agreement_id
        )
    ).one()
    return period, due, SwedishCalendar().next_working_day(agreement.revision_due)


def _agreement_for(session: Session, agreement_id: str | None) -> AgreementRow:
    if agreement_id is not None:
        found = session.get(AgreementRow, agreement_id, with_for_update=True)
        if found is None:
            raise NotFound("överenskommelse", agreement_id)
        return found
    rows = list(session.scalars(select(AgreementRow)))
    if len(rows) != 1:
        names = ", ".join(sorted(a.id for a in rows)) or "inga"
        raise InvalidValue("--agreement", f"ange vilken överenskommelse (finns: {names})")
    return rows[0]


def _other_party_recipients(session: Session, agreement: AgreementRow, party: str) -> tuple[str, ...]:
    parties = {p.id: p for p in session.scalars(select(PartyRow).where(PartyRow.agreement_id == agreement.id))}
    if party not in parties:
        raise InvalidValue("--party", f"okänd part '{party}' (parter: {', '.join(sorted(parties))})")
    emails = []
    for pid, p in sorted(parties.items()):
        if pid != party:
            unit = session.get(UnitRow, (agreement.id, p.contact_unit))
            assert unit is not None
            emails.append(unit.email)
    owner = session.get(UnitRow, (agreement.id, agreement.process_owner))
    assert owner is not None
    emails.append(owner.email)
    return tuple(dict.fromkeys(emails))


def notify_change(
    session: Session,
    *,
    party: str,
    text: str,
    by: str,
    now: datetime,
    commitments: list[str] | None = None,
    agreement_id: str | None = None,
) -> PartyEvent:
    """Changed conditions: recorded, sent at once to the other party and the process owner,
    and the commitments named are flagged for the next revision."""
    text = _require_text("--text", text)
    by = _require_text("--by", by)
    agreement = _agreement_for(session, agreement_id)
    recipients = _other_party_recipients(session, agreement, party)
    flagged = []
    for key in commitments or []:
        c = resolve_commitment(session, key, lock=True)
        if c.agreement_id != agreement.id:
            raise InvalidValue("--commitment", f"{c.id} hör inte till överenskommelsen {agreement.id}")
        c.revision_flag = f"ändrade förutsättningar ({party}, {now.date().isoformat()}): {text[:200]}"
        flagged.append(c.id)
    return _record_party_event(
        session,
        agreement,
        "change",
        party=party,
        text=text,
        effective=None,
        commitments=flagged,
        by=by,
        now=now,
        recipients=recipients,
    )


def _record_party_event(
    session: Session,
    agreement: AgreementRow,
    kind: str,
    *,
    party: str,
    text: str,
    effective: date | None,
    commitments: list[str],
    by: str,
    now: datetime,
    recipients: tuple[str, ...],
) -> PartyEvent:
    """Store a party's notice and queue it, to go at once, to the other party and the process owner."""
    event = PartyEvent(
        agreement_id=agreement.id,
        kind=kind,
        party=party,
        text=text,
        effective=effective,
        commitments=commitments,
        by=by,
        recorded_at=now,
    )
    session.add(event)
    session.flush()
    data: dict[str, Any] = {"event": event.id, "party": party}
    if effective is not None:
        data["effective"] = effective.isoformat()
    notice_kind: NoticeKind = "change_notice" if kind == "change" else "termination_notice"
    notice = QueueNotice(
        key=f"{notice_kind}:{agreement.id}:{event.id}",
        kind=notice_kind,
        recipients=recipients,
        send_at=now,
        agreement=agreement.id,
        data=data,
    )
    outbox.queue(session.connection(), [notice], now)
    return event


def terminate(
    session: Session,
    *,
    party: str,
    effective: date,
    reason: str,
    by: str,
    now: datetime,
    agreement_id: str | None = None,
) -> PartyEvent:
    """A termination: recorded and sent at once; every commitment ends on ``effective``,
    and nothing queued for that day or later is sent."""
    reason = _require_text("--reason", reason)
    by = _require_text("--by", by)
    agreement = _agreement_for(session, agreement_id)
    recipients = _other_party_recipients(session, agreement, party)
    today = now.astimezone(ZoneInfo(agreement.timezone)).date()
    if effective < today:
        raise InvalidValue("--effective", f"{effective} har redan passerat")
    if agreement.terminates is not None:
        raise InvalidValue("--party", f"överenskommelsen är redan uppsagd från {agreement.terminates}")
    agreement.terminates = effective
    agreement.next_check = now
    session.execute(
        update(Commitment)
        .where(Commitment.agreement_id == agreement.id, Commitment.state != lifecycle.AVSLUTAD)
        .values(next_check=now)
    )
    stop = datetime.combine(effective, datetime.min.time(), tzinfo=ZoneInfo(agreement.timezone))
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.agreement_id == agreement.id, OutboxRow.state == "pending", OutboxRow.send_at >= stop)
        .values(state="cancelled", last_error=f"överenskommelsen uppsagd från {effective}")
    )
    return _record_party_event(
        session,
        agreement,
        "termination",
        party=party,
        text=reason,
        effective=effective,
        commitments=[],
        by=by,
        now=now,
        recipients=recipients,
    )
