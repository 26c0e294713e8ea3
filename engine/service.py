"""A commitment's commands inside a transaction: resolve it, move it, record its follow-up.

Also the decisions every edge shares: which agreement a command means (``agreement_for``)
and which measures a commitment reports (``measures_for``). Every function takes the
session of the caller's transaction and an explicit ``now``; nothing here reads the clock
or commits. The CLI and the web reach these through ``engine.api.commands``, which owns
the transaction; plan loading, revisions and the parties' notices call them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import calendar_events, outbox, withdraw
from engine.deadlines import extended_dues, next_report_of, stored_due
from engine.models import (
    AgreementRow,
    AreaRow,
    Commitment,
    EffortRow,
    FollowUp,
    Revision,
    TransitionRecord,
    UnitRow,
)
from rules import deviation, lifecycle, texts
from rules import follow_up as follow_up_rules
from rules import hours as hours_rule
from rules import revision as revision_rules
from rules.calendar import SwedishCalendar
from rules.errors import InvalidValue, NotFound
from rules.model import Schedule


def require_text(field: str, value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidValue(field, "får inte vara tomt")
    return value


# An id is agreement.effort.party, each a slug of at most 60 characters (engine.agreement):
# anything longer is no id, and is refused before it reaches the database.
MAX_ID = 200


def resolve_commitment(session: Session, key: str, *, lock: bool = False) -> Commitment:
    """A commitment by full id (``boras.trafik.kommun``) or, if unambiguous, ``trafik.kommun``.

    The short form is a suffix match; ``%`` and ``_`` in what was typed are characters, not
    LIKE's wildcards (``vbe.k%`` once ended ``boras.vbe.kommun``).
    """
    key = key.strip()
    if len(key) > MAX_ID:
        raise NotFound("åtagande", key[:40] + "…", f"ett id är högst {MAX_ID} tecken")
    stmt = select(Commitment).where(Commitment.id == key)
    if lock:
        stmt = stmt.with_for_update()
    found = session.scalars(stmt).first()
    if found is not None:
        return found
    suffix = Commitment.id.endswith("." + key, autoescape=True)
    matches = list(session.scalars(select(Commitment.id).where(suffix)))
    if len(matches) == 1:
        return resolve_commitment(session, matches[0], lock=lock)
    if len(matches) > 1:
        raise NotFound("åtagande", key, "flera träffar: " + ", ".join(sorted(matches)))
    raise NotFound("åtagande", key, "se 'samverkan status' för giltiga id")


def agreement_for(session: Session, agreement_id: str | None, *, lock: bool = True) -> AgreementRow:
    """The agreement a command means: the one named, or the only one loaded.

    Every edge asks this (CLI ``--agreement``, the web's choice, the report), so they
    refuse the same way: an unknown id names the known ones; with several loaded and none
    named, the person is asked to choose.
    """
    known = sorted(session.scalars(select(AgreementRow.id)))
    if agreement_id is None:
        if len(known) != 1:
            raise InvalidValue("agreement", f"ange vilken överenskommelse (finns: {', '.join(known) or 'inga'})")
        agreement_id = known[0]
    found = session.get(AgreementRow, agreement_id, with_for_update=lock)
    if found is None:
        raise InvalidValue("agreement", f"okänd överenskommelse '{agreement_id}' (finns: {', '.join(known) or 'inga'})")
    return found


def _timeframe_begun(session: Session, c: Commitment, now: datetime) -> bool:
    effort = session.get(EffortRow, (c.agreement_id, c.effort_id))
    agreement = session.get(AgreementRow, c.agreement_id)
    assert effort is not None and agreement is not None
    return effort.starts <= now.astimezone(ZoneInfo(agreement.timezone)).date()


def _reported(session: Session, c: Commitment) -> bool:
    return latest_follow_up(session, c.id, c.period) is not None


def record_move(
    session: Session, c: Commitment, moved: lifecycle.Moved, *, at: datetime, by: str, why: str
) -> TransitionRecord:
    """Write what ``rules.lifecycle.move`` made of ``c`` and its history row; withdraw what lost its reason."""
    record = TransitionRecord(
        commitment_id=c.id,
        at=at,
        trigger=moved.trigger,
        from_state=moved.from_state,
        to_state=moved.state,
        by=by,
        why=why,
    )
    c.state = moved.state
    c.state_since = at
    c.period = moved.period
    # A revision that keeps the period open keeps its extension (engine.deadlines.stored_due).
    c.next_due = stored_due(extended_dues(session.connection(), [c.id]), c.id, moved.period, moved.next_due)
    # The rules look at a moved commitment at the next tick; an ended one never again.
    c.next_check = moved.next_check
    session.add(record)
    session.flush()
    withdraw.withdraw_stale(session.connection(), at, commitments=[c.id])
    return record


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
    """Move ``c`` by ``trigger`` (rules.lifecycle.move) and append the history row, or raise and write nothing."""
    by = require_text("by", by)
    why = require_text("why", why)
    agreement = session.get(AgreementRow, c.agreement_id)
    assert agreement is not None
    moved = lifecycle.move(
        c.id,
        c.state,
        c.period,
        trigger,
        at=now,
        due_md=agreement.schedule["follow_up"]["due"],
        calendar=calendar or SwedishCalendar(),
        timeframe_begun=_timeframe_begun(session, c, now) if trigger == "reinstate" else True,
        reported=_reported(session, c) if trigger == "reinstate" else False,
    )
    return record_move(session, c, moved, at=now, by=by, why=why)


def transition(session: Session, key: str, trigger: str, *, by: str, why: str, now: datetime) -> TransitionRecord:
    """Fire ``trigger`` (as a person typed it) on the commitment named ``key``."""
    trigger = lifecycle.parse_trigger(trigger)
    c = resolve_commitment(session, key, lock=True)
    if trigger == "restore":
        lifecycle.next_state(c.id, c.state, trigger)  # refused from any state but avslutad
        raise InvalidValue("trigger", "ett avslutat åtagande återinförs när en plan som har det läses in (init)")
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
    # The follow-up asked for next (engine.deadlines.next_report_of): once the open period is
    # reported, the next period's; the calendar export names the same date.
    next_due: date | None
    due_period: int | None = None

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
            "due_period": self.due_period,
        }


def status(
    session: Session,
    *,
    party: str | None = None,
    unit: str | None = None,
    state: str | None = None,
) -> list[StatusRow]:
    """Every commitment (optionally filtered), in plan order, with the follow-up it is asked for next."""
    stmt = (
        select(Commitment, EffortRow, AreaRow, UnitRow, AgreementRow)
        .join(EffortRow, (EffortRow.agreement_id == Commitment.agreement_id) & (EffortRow.id == Commitment.effort_id))
        .join(AreaRow, (AreaRow.agreement_id == EffortRow.agreement_id) & (AreaRow.id == EffortRow.area_id))
        .join(UnitRow, (UnitRow.agreement_id == Commitment.agreement_id) & (UnitRow.id == Commitment.responsible))
        .join(AgreementRow, AgreementRow.id == Commitment.agreement_id)
        .order_by(Commitment.agreement_id, AreaRow.number, EffortRow.position, Commitment.party)
    )
    if party is not None:
        known = set(session.scalars(select(Commitment.party).distinct()))
        if party not in known:
            raise InvalidValue("party", f"okänd part '{party}' (parter: {', '.join(sorted(known))})")
        stmt = stmt.where(Commitment.party == party)
    if unit is not None:
        known = set(session.scalars(select(UnitRow.id).distinct()))
        if unit not in known:
            raise InvalidValue("unit", f"okänd enhet '{unit}' (enheter: {', '.join(sorted(known))})")
        stmt = stmt.where(Commitment.responsible == unit)
    if state is not None:
        stmt = stmt.where(Commitment.state == lifecycle.parse_state(state))
    cal = SwedishCalendar()
    out = []
    for c, e, a, u, agreement in session.execute(stmt):
        asked = next_report_of(c, agreement, e.ends, cal)
        out.append(
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
                next_due=asked[1] if asked else None,
                due_period=asked[0] if asked else None,
            )
        )
    return out


def history(session: Session, key: str) -> tuple[Commitment, list[TransitionRecord]]:
    c = resolve_commitment(session, key)
    rows = list(
        session.scalars(
            select(TransitionRecord).where(TransitionRecord.commitment_id == c.id).order_by(TransitionRecord.id)
        )
    )
    return c, rows


def measures_for(session: Session, c: Commitment) -> list[dict[str, Any]]:
    effort = session.get(EffortRow, (c.agreement_id, c.effort_id))
    assert effort is not None
    return deviation.for_party(effort.measures, c.party)


def _count_value(mid: str, value: Any) -> int:
    if isinstance(value, str):
        text = value.strip()
        # isdigit() alone admits "²" and other digits int() refuses; 18 digits stay an int64.
        if text.isascii() and text.isdigit() and len(text) <= 18:
            return int(text)
        raise InvalidValue("value", f"'{mid}' ska vara ett heltal ≥ 0, inte {value!r}")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidValue("value", f"'{mid}' ska vara ett heltal ≥ 0, inte {value!r}")
    return value


def check_values(measures: list[dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """The follow-up's values, checked against the commitment's measures.

    Every measure must be given; a count is a whole number ≥ 0 (text such as "3" is
    accepted from a form or the command line), a text measure is non-empty.
    """
    known = {m["id"]: m for m in measures}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InvalidValue("value", f"okänt aktivitetsmått {', '.join(unknown)} (giltiga: {', '.join(known) or '-'})")
    out: dict[str, Any] = {}
    for mid, m in known.items():
        if mid not in values:
            raise InvalidValue("value", f"aktivitetsmåttet '{mid}' saknas ({m['text']})")
        value = values[mid]
        if m.get("kind", "count") == "count":
            out[mid] = _count_value(mid, value)
        elif not isinstance(value, str) or not value.strip():
            raise InvalidValue("value", f"'{mid}' ska vara en text som inte är tom")
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


def refuse_first_report(
    commitment: str,
    state: str,
    open_period: int,
    period: int,
    *,
    recorded: datetime | None,
    schedule: Schedule,
    today: date,
    calendar: SwedishCalendar,
) -> None:
    """Raise unless ``period``'s first follow-up may be recorded for a commitment in ``state`` today.

    ``recorded`` is when that period's follow-up was recorded, if it was. One place decides,
    for ``record_follow_up`` and for the set-based ``engine.follow_ups.record_follow_ups``.
    """
    if recorded is not None:
        when = texts.datum(recorded, schedule.zone)
        raise InvalidValue(
            "period", f"{commitment}: uppföljningen för {period} registrerades redan {when}; rätta med --replace"
        )
    if state == lifecycle.AVSLUTAD:
        raise InvalidValue("commitment", f"{commitment} är avslutat och följs inte upp")
    if state == lifecycle.PLANERAD:
        raise InvalidValue("commitment", f"{commitment} har inte startat (planerat)")
    if period != open_period:
        raise InvalidValue("period", f"{commitment} följs nu upp för {open_period}, inte {period}")
    opens = follow_up_rules.reporting_opens(period, schedule, calendar)
    if today < opens:
        raise InvalidValue("period", f"uppföljningen för {period} kan lämnas från {texts.datum(opens)}")


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
    comment = require_text("comment", comment)
    by = require_text("by", by)
    if hours is not None:
        hours = hours_rule.check(hours)  # the rule the CLI and the web form ask too
    c = resolve_commitment(session, key, lock=True)
    agreement = session.get(AgreementRow, c.agreement_id)
    assert agreement is not None
    schedule = Schedule.from_settings(agreement.timezone, agreement.schedule)
    today = now.astimezone(schedule.zone).date()
    existing = latest_follow_up(session, c.id, period)
    checked = check_values(measures_for(session, c), values)
    if replace:
        if existing is None:
            raise InvalidValue("replace", f"{c.id} har ingen uppföljning för {period} att rätta")
        version = existing.version + 1
    else:
        refuse_first_report(
            c.id,
            c.state,
            c.period,
            period,
            recorded=existing.recorded_at if existing is not None else None,
            schedule=schedule,
            today=today,
            calendar=cal,
        )
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
    session.flush()
    if version == 1:
        # After the record, so what the move withdraws is withdrawn for the reason that it was reported.
        apply_transition(session, c, "follow_up", by=by, why=f"uppföljning {period} registrerad", now=now)
    owner = session.get(UnitRow, (c.agreement_id, agreement.process_owner))
    assert owner is not None
    notices = deviation.evaluate(
        commitment=c.id,
        agreement=c.agreement_id,
        period=period,
        party=c.party,
        values=checked,
        measures=measures_for(session, c),
        owner_email=owner.email,
        now=now,
        s=schedule,
        cal=cal,
    )
    c.next_check = now  # the next tick decides what follows (end, new period)
    session.flush()
    # The reminders and overdue notices for this period lost their reason, and a
    # corrected value may have taken a deviation's away.
    withdraw.withdraw_stale(session.connection(), now, commitments=[c.id])
    if version == 1:
        # The period's calendar event, if a mail or an export carried it, rides along as
        # cancelled with the unit's next mail; queued after the withdrawal, which never takes it.
        cancel = calendar_events.cancellation(session, c, period, now=now)
        if cancel is not None:
            notices = (*notices, cancel)
    outbox.queue_in(session, list(notices), now)
    return record


def complete_revision(session: Session, agreement_id: str, *, now: datetime, number: int | None = None) -> AgreementRow:
    """Close revision ``number`` (default: the current one) and schedule the next (rules.revision.following).

    The next is the first revision after it whose deadline is after today: never a date
    in the past. When the term has no revision left, none is scheduled.
    """
    agreement = session.get(AgreementRow, agreement_id, with_for_update=True)
    if agreement is None:
        raise NotFound("överenskommelse", agreement_id)
    schedule = Schedule.from_settings(agreement.timezone, agreement.schedule)
    today = now.astimezone(schedule.zone).date()
    done = agreement.revision_number if number is None else number
    # This revision, and any earlier one left open that it replaced.
    for row in session.scalars(
        select(Revision).where(
            Revision.agreement_id == agreement.id, Revision.completed_at.is_(None), Revision.number <= done
        )
    ):
        row.completed_at = now
        row.plan_version_after = agreement.plan_version
    agreement.revision_number, agreement.revision_due = revision_rules.following(
        agreement.signed, schedule.revision_every_years, agreement.valid_to, done, today, SwedishCalendar()
    )
    agreement.next_check = now
    session.flush()
    withdraw.withdraw_stale(session.connection(), now, agreement=agreement.id)
    return agreement


def takeover(session: Session, agreement_id: str) -> tuple[int, date | None, date | None]:
    """The first period the engine follows up, its due date, and the next revision's deadline."""
    agreement = session.get(AgreementRow, agreement_id)
    assert agreement is not None
    period, due = session.execute(
        select(func.min(Commitment.period), func.min(Commitment.next_due)).where(
            Commitment.agreement_id == agreement_id
        )
    ).one()
    return period, due, agreement.revision_due
