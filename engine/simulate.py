"""Simulation: the real engine on a virtual clock over an in-memory database; sends nothing.

The clock jumps from one due moment to the next — the smallest ``next_check`` in the
database, or the next thing a simulated person does — never day by day, so the cost
grows with the number of events, not with the length of the period.

Simulated people (so a decade shows the agreement's normal rhythm):

* ``follow_ups="on-time"``: each responsible unit records its follow-up at 12:00 on
  the due date, every measure at its target (or 1 without one); ``"never"``: nobody
  does, and the overdue notices and escalations show instead.
* ``revisions="completed"``: the process owner completes each revision at 12:00 on
  its due date; ``"never"``: late-revision notices show instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, func, select

from engine import db, service
from engine.agreement import Agreement
from engine.models import AgreementRow, Commitment, EffortRow
from engine.plan import load_plan
from engine.tick import NoticeQueued, TransitionApplied, next_wakeup, tick
from rules import deviation, lifecycle
from rules.calendar import SwedishCalendar, send_at
from rules.errors import SimulationStuck

SIMULATED_UNIT = "simulering: ansvarig enhet"
SIMULATED_OWNER = "simulering: processägaren"
PERSON_TIME = time(12, 0)


@dataclass(frozen=True, kw_only=True)
class Event:
    at: datetime
    kind: str
    recipients: tuple[str, ...] = ()
    commitment: str | None = None
    agreement: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"at": self.at.isoformat(), "kind": self.kind, "recipients": list(self.recipients)}
        if self.commitment is not None:
            out["commitment"] = self.commitment
        if self.agreement is not None:
            out["agreement"] = self.agreement
        out.update(self.details)
        return out


def _to_events(report_events: list[TransitionApplied | NoticeQueued], zone: Any) -> list[Event]:
    out: list[Event] = []
    for e in report_events:
        if isinstance(e, TransitionApplied):
            out.append(
                Event(
                    at=e.at.astimezone(zone),
                    kind="transition",
                    commitment=e.commitment,
                    agreement=e.commitment.split(".", 1)[0],
                    details={"from": e.from_state, "to": e.to_state, "trigger": e.trigger, "by": e.by, "why": e.why},
                )
            )
        else:
            n = e.notice
            details: dict[str, Any] = {"key": n.key}
            if n.period is not None:
                details["period"] = n.period
            details.update(n.data)
            out.append(
                Event(
                    at=n.send_at.astimezone(zone),
                    kind=n.kind,
                    recipients=n.recipients,
                    commitment=n.commitment,
                    agreement=n.agreement,
                    details=details,
                )
            )
    return out


def _next_person(
    engine: Engine, cal: SwedishCalendar, zone: Any, follow_ups: str, revisions: str
) -> tuple[datetime | None, Literal["follow_up", "revision"] | None]:
    best: tuple[datetime | None, Literal["follow_up", "revision"] | None] = (None, None)
    with engine.connect() as conn:
        if follow_ups == "on-time":
            running = Commitment.state == lifecycle.PAGAENDE
            due = conn.execute(select(func.min(Commitment.next_due)).where(running)).scalar()
            if due is not None:
                best = (send_at(_date(due), PERSON_TIME, zone), "follow_up")
        if revisions == "completed":
            rdue = conn.execute(select(func.min(AgreementRow.revision_due)).where(*_revision_open())).scalar()
            if rdue is not None:
                when = send_at(_date(rdue), PERSON_TIME, zone)
                if best[0] is None or when < best[0]:
                    best = (when, "revision")
    return best


def _revision_open() -> tuple[Any, ...]:
    """Agreements with a revision to complete: one is scheduled, and no termination came first."""
    return (
        AgreementRow.revision_due.is_not(None),
        (AgreementRow.terminates.is_(None)) | (AgreementRow.revision_due < AgreementRow.terminates),
    )


# A tick, a follow-up round and a revision round at the same instant, then the clock must move.
MAX_STEPS_AT_ONE_INSTANT = 20


def _stuck_agreement(engine: Engine, now: datetime) -> str | None:
    """The agreement that keeps the clock at ``now``: something still due, or a revision to complete."""
    with engine.connect() as conn:
        for stmt in (
            select(AgreementRow.id).where(AgreementRow.next_check <= now),
            select(Commitment.agreement_id).where(Commitment.next_check <= now),
            select(AgreementRow.id).where(*_revision_open()),
        ):
            found = conn.execute(stmt.order_by(stmt.selected_columns[0]).limit(1)).scalar()
            if found is not None:
                return str(found)
    return None


def _date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _act_as_people(engine: Engine, now: datetime, what: str, zone: Any) -> list[Event]:
    events: list[Event] = []
    today = now.astimezone(zone).date()
    with db.transaction(engine) as session:
        if what == "revision":
            for a in session.scalars(select(AgreementRow).where(*_revision_open())):
                if a.revision_due is not None and a.revision_due <= today:
                    number = a.revision_number
                    service.complete_revision(session, a.id, now=now)
                    events.append(
                        Event(
                            at=now.astimezone(zone),
                            kind="revision_completed",
                            agreement=a.id,
                            details={"revision": number, "by": SIMULATED_OWNER},
                        )
                    )
            return events
        due_today = session.execute(
            select(Commitment, EffortRow)
            .join(
                EffortRow, (EffortRow.agreement_id == Commitment.agreement_id) & (EffortRow.id == Commitment.effort_id)
            )
            .where(Commitment.state == lifecycle.PAGAENDE, Commitment.next_due <= today)
            .order_by(Commitment.id)
        ).all()
        for c, effort in due_today:
            values: dict[str, Any] = {}
            for m in deviation.for_party(effort.measures, c.party):
                if m.get("kind", "count") == "count":
                    values[m["id"]] = int(m["target"]) if m.get("target") is not None else 1
                else:
                    values[m["id"]] = "Redovisad (simulering)"
            period = c.period
            service.record_follow_up(
                session, c.id, period=period, values=values, comment="simulerad uppföljning", by=SIMULATED_UNIT, now=now
            )
            events.append(
                Event(
                    at=now.astimezone(zone),
                    kind="transition",
                    commitment=c.id,
                    agreement=c.agreement_id,
                    details={
                        "from": lifecycle.PAGAENDE,
                        "to": lifecycle.UPPFOLJD,
                        "trigger": "follow_up",
                        "by": SIMULATED_UNIT,
                        "why": f"uppföljning {period} registrerad",
                        "period": period,
                    },
                )
            )
    return events


def simulate(
    agreements: list[Agreement],
    start: date,
    end: date,
    *,
    follow_ups: Literal["on-time", "never"] = "on-time",
    revisions: Literal["completed", "never"] = "completed",
    calendar: SwedishCalendar | None = None,
) -> Iterator[Event]:
    """Every event from ``start`` 00:00 to ``end`` 23:59:59 local time, in order."""
    cal = calendar or SwedishCalendar()
    zone = agreements[0].zone
    engine = db.connect("sqlite://")
    db.upgrade(engine)
    now = datetime.combine(start, time(0, 0), tzinfo=zone)
    stop = datetime.combine(end + timedelta(days=1), time(0, 0), tzinfo=zone)
    with db.transaction(engine) as session:
        for a in agreements:
            load_plan(session, a, now=now, calendar=cal)
    pending: list[Event] = []
    seq = 0
    last, repeats = now, 0
    while True:
        rule_at = next_wakeup(engine)
        person_at, what = _next_person(engine, cal, zone, follow_ups, revisions)
        candidates = [t for t in (rule_at, person_at) if t is not None]
        if not candidates:
            break
        now = max(now, min(candidates))
        if now >= stop:
            break
        # A tick and each simulated person act once per instant; more means nothing advances.
        repeats = repeats + 1 if now == last else 0
        last = now
        if repeats > MAX_STEPS_AT_ONE_INSTANT:
            stuck = _stuck_agreement(engine, now) or agreements[0].id
            engine.dispose()
            raise SimulationStuck(stuck, now.astimezone(zone).isoformat(timespec="minutes"))
        if person_at is not None and person_at <= now and what is not None:
            batch = _act_as_people(engine, now, what, zone)
        else:
            batch = _to_events(tick(engine, now, calendar=cal).events, zone)
        pending.extend(batch)
        # Emit what can no longer be preceded by a later event (deviations are queued ahead).
        pending.sort(key=lambda e: e.at)
        while pending and pending[0].at <= now:
            seq += 1
            yield pending.pop(0)
    for e in sorted(pending, key=lambda e: e.at):
        if e.at < stop:
            yield e
    engine.dispose()
