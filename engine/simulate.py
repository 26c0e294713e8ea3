"""Simulation: the real engine on a virtual clock over an in-memory database; sends nothing.

The clock jumps from one due moment to the next — the smallest ``next_check`` in the
database, or the next thing a simulated person does — never day by day, so the cost
grows with the number of events, not with the length of the period.

Simulated people (so a decade shows the agreement's normal rhythm):

* ``follow_ups="on-time"``: each responsible unit records its follow-up at 12:00 on
  the due date, every measure at its target (or 1 without one); ``"late"``: the same,
  ``LATE_DAYS`` days after the due date, once the overdue notice and the escalation
  have gone; ``"never"``: nobody does, and the overdue notices and escalations show
  instead. A mapping gives each agreement (by id) its own behaviour (on time if not named).
* ``revisions="completed"``: the process owner completes each revision at 12:00 on
  its due date; ``"never"``: late-revision notices show instead.

The follow-ups due at one instant are recorded in one set-based step
(``engine.follow_ups.record_follow_ups``); ``one_at_a_time`` records them through
``engine.service.record_follow_up`` one by one, as before that step existed, so the
two can be compared.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Engine, and_, false, func, or_, select, true

from engine import db, service
from engine.agreement import Agreement
from engine.follow_ups import FirstReport, record_follow_ups
from engine.models import AgreementRow, Commitment, EffortRow
from engine.plan import load_plan
from engine.tick import NoticeQueued, TransitionApplied, next_wakeup, tick
from rules import deviation, lifecycle
from rules.calendar import SwedishCalendar, send_at
from rules.errors import SimulationStuck

SIMULATED_UNIT = "simulering: ansvarig enhet"
SIMULATED_OWNER = "simulering: processägaren"
PERSON_TIME = time(12, 0)
# A late unit reports this many days after the due date: with the default schedule, after
# the overdue notices of the next working day and of 15 days after, and the escalation of
# 14 days after — what a late report sets going, shown before it comes in.
LATE_DAYS = 20

FollowUps = Literal["on-time", "late", "never"]
FOLLOW_UPS: tuple[FollowUps, ...] = ("on-time", "late", "never")


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


class _People:
    """Who reports when: the agreements of each follow-up behaviour, as query conditions."""

    def __init__(self, agreements: list[Agreement], follow_ups: FollowUps | Mapping[str, FollowUps]) -> None:
        modes = {
            a.id: follow_ups if isinstance(follow_ups, str) else follow_ups.get(a.id, "on-time") for a in agreements
        }
        for mode in modes.values():
            if mode not in FOLLOW_UPS:
                raise ValueError(f"follow_ups: {mode!r} is none of {FOLLOW_UPS}")
        self.reporting = {m: sorted(a for a, am in modes.items() if am == m) for m in ("on-time", "late")}
        self.everyone = {m: len(ids) == len(modes) for m, ids in self.reporting.items()}

    def of(self, mode: str) -> ColumnElement[bool]:
        """Commitments of the agreements whose units report ``mode``."""
        if self.everyone[mode]:
            return true()
        ids = self.reporting[mode]
        return Commitment.agreement_id.in_(ids) if ids else false()

    def due(self, today: date) -> ColumnElement[bool]:
        """Running commitments whose unit reports today: on time on the due date, late ``LATE_DAYS`` after."""
        return and_(
            Commitment.state == lifecycle.PAGAENDE,
            or_(
                and_(self.of("on-time"), Commitment.next_due <= today),
                and_(self.of("late"), Commitment.next_due <= today - timedelta(days=LATE_DAYS)),
            ),
        )


def _next_report(engine: Engine, zone: Any, people: _People) -> datetime | None:
    """When a simulated unit next records a follow-up: the earliest running commitment's day, late or not."""
    best: datetime | None = None
    running = Commitment.state == lifecycle.PAGAENDE
    with engine.connect() as conn:
        for mode, after in (("on-time", 0), ("late", LATE_DAYS)):
            if not people.reporting[mode]:
                continue
            due = conn.execute(select(func.min(Commitment.next_due)).where(running, people.of(mode))).scalar()
            if due is not None:
                when = send_at(_date(due) + timedelta(days=after), PERSON_TIME, zone)
                best = when if best is None else min(best, when)
    return best


def _next_revision(engine: Engine, zone: Any, revisions: str) -> datetime | None:
    """When the simulated process owner next completes a revision."""
    if revisions != "completed":
        return None
    with engine.connect() as conn:
        rdue = conn.execute(select(func.min(AgreementRow.revision_due)).where(*_revision_open())).scalar()
    return None if rdue is None else send_at(_date(rdue), PERSON_TIME, zone)


def _next_person(
    report_at: datetime | None, revision_at: datetime | None
) -> tuple[datetime | None, Literal["follow_up", "revision"] | None]:
    """The next thing a simulated person does; a follow-up first when both fall at one instant."""
    if report_at is not None and (revision_at is None or report_at <= revision_at):
        return report_at, "follow_up"
    if revision_at is not None:
        return revision_at, "revision"
    return None, None


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


def _act_as_people(
    engine: Engine, now: datetime, what: str, zone: Any, people: _People, *, one_at_a_time: bool = False
) -> list[Event]:
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
            select(Commitment.id, Commitment.agreement_id, Commitment.party, Commitment.period, EffortRow.measures)
            .join(
                EffortRow, (EffortRow.agreement_id == Commitment.agreement_id) & (EffortRow.id == Commitment.effort_id)
            )
            .where(people.due(today))
            .order_by(Commitment.id)
        ).all()
        reports = [
            FirstReport(
                commitment=cid,
                period=period,
                values=_simulated_values(deviation.for_party(measures, party)),
                comment="simulerad uppföljning",
                by=SIMULATED_UNIT,
            )
            for cid, _, party, period, measures in due_today
        ]
        if one_at_a_time:
            for r in reports:
                service.record_follow_up(
                    session, r.commitment, period=r.period, values=dict(r.values), comment=r.comment, by=r.by, now=now
                )
        else:
            record_follow_ups(session, reports, now=now)
        for cid, aid, _, period, _ in due_today:
            events.append(
                Event(
                    at=now.astimezone(zone),
                    kind="transition",
                    commitment=cid,
                    agreement=aid,
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


def _simulated_values(measures: list[dict[str, Any]]) -> dict[str, Any]:
    """Every measure at its target (1 without one); a text measure says it was reported."""
    return {
        m["id"]: (int(m["target"]) if m.get("target") is not None else 1)
        if m.get("kind", "count") == "count"
        else "Redovisad (simulering)"
        for m in measures
    }


def simulate(
    agreements: list[Agreement],
    start: date,
    end: date,
    *,
    follow_ups: FollowUps | Mapping[str, FollowUps] = "on-time",
    revisions: Literal["completed", "never"] = "completed",
    calendar: SwedishCalendar | None = None,
    engine: Engine | None = None,
    one_at_a_time: bool = False,
) -> Iterator[Event]:
    """Every event from ``start`` 00:00 to ``end`` 23:59:59 local time, in order.

    ``engine``: an upgraded, empty database to simulate in (left as the simulation leaves
    it, for a test to read); by default an in-memory SQLite one, dropped at the end.
    """
    cal = calendar or SwedishCalendar()
    zone = agreements[0].zone
    people = _People(agreements, follow_ups)
    own = engine is None
    if engine is None:
        engine = db.connect("sqlite://")
        db.upgrade(engine)
    now = datetime.combine(start, time(0, 0), tzinfo=zone)
    stop = datetime.combine(end + timedelta(days=1), time(0, 0), tzinfo=zone)
    with db.transaction(engine) as session:
        for a in agreements:
            load_plan(session, a, now=now, calendar=cal)
    # Events by time, then in the order they were found (the counter): the same order a
    # stable sort gives, without re-sorting everything held at every step.
    pending: list[tuple[datetime, int, Event]] = []
    seq = 0
    last, repeats = now, 0
    # When a unit next reports depends only on the running commitments' due dates, which
    # move only with a transition (a tick's, or a report's): asked again only then.
    report_at, moved = None, True
    while True:
        rule_at = next_wakeup(engine)
        if moved:
            report_at = _next_report(engine, zone, people)
        person_at, what = _next_person(report_at, _next_revision(engine, zone, revisions))
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
            if own:
                engine.dispose()
            raise SimulationStuck(stuck, now.astimezone(zone).isoformat(timespec="minutes"))
        if person_at is not None and person_at <= now and what is not None:
            batch = _act_as_people(engine, now, what, zone, people, one_at_a_time=one_at_a_time)
            moved = True
        else:
            found = tick(engine, now, calendar=cal).events
            moved = any(isinstance(e, TransitionApplied) for e in found)
            batch = _to_events(found, zone)
        for e in batch:
            seq += 1
            heapq.heappush(pending, (e.at, seq, e))
        # Emit what can no longer be preceded by a later event (deviations are queued ahead).
        while pending and pending[0][0] <= now:
            yield heapq.heappop(pending)[2]
    while pending:
        at, _, e = heapq.heappop(pending)
        if at < stop:
            yield e
    if own:
        engine.dispose()
