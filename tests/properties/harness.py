"""The driver: the real engine over about a decade, with scripted people and the real dispatcher.

``run_case(case)`` loads the generated agreement into an in-memory SQLite database
(``engine.db.connect("sqlite://")`` + ``engine.db.upgrade``) at local midnight of the signing
day and moves a virtual clock the way ``engine/simulate.py`` does — never day by day, always
straight to the earliest of:

* the engine's own ``next_wakeup`` (then ``engine.tick.tick``),
* the next thing a scripted person does (at 12:00 local; see below),
* the next send slot (the send time on a working day) at or after the earliest pending notice,
  unless the mail server is down then (``Script.outages``): the real dispatcher
  ``notifications.dispatcher.deliver`` with the real ``FileMailer`` writing .eml files.

The people, all through the engine's API as the CLI and the web call it:

* each responsible unit reports the period its commitment is open for (as the engine says) on
  time (on the due day, or some days before, never before reporting opens), late, or never
  (``engine.service.record_follow_up``); a refused report is logged and tried again the next
  day at 12:00, at most ``RETRIES`` times;
* the process owner, around each revision deadline counted from signing (never before its
  kick-off, never after a fixed term's last day), opens the revision
  (``engine.revisions.open_revision``), decides every live commitment keep/change/remove
  (``engine.revisions.decide``) and completes it with a revised file
  (``engine.revisions.complete``) that keeps, changes (text), removes, re-adds an effort an
  earlier revision removed, adds a new one, and for a fixed term sometimes renews it; or
  leaves the revision unfinished;
* sometimes a party terminates the agreement (``engine.parties.terminate``).

Everything is recorded in a ``Run``: each tick's events, each person's action (refusals and
crashes too), each delivery, and at the end the outbox, the transition log, the follow-ups and
the revisions. The properties in test_every_agreement.py read only the ``Run``.

The loop stops by itself: at the end of the horizon, or — recorded as ``stuck`` — when one
instant repeats more than ``MAX_SAME_INSTANT`` times, after ``MAX_ITERATIONS`` steps, or when
the engine raises.
"""

from __future__ import annotations

import dataclasses
import signal
import tempfile
import threading
import time as wallclock
import traceback
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine import db, parties, service
from engine.models import AgreementRow, Commitment, FollowUp, OutboxRow, Revision, RevisionDecision, TransitionRecord
from engine.plan import load_plan
from engine.revisions import complete, decide, open_revision
from engine.tick import NoticeQueued, TransitionApplied, next_wakeup, tick
from notifications.dispatcher import deliver, next_send
from notifications.settings import Settings
from rules.calendar import add_years
from rules.errors import SamverkanError
from tests.properties.agreements import (
    AGREEMENT_ID,
    Case,
    CommitmentSpec,
    EffortSpec,
    Outage,
    Report,
    parse,
)
from tests.properties.spec import (
    FollowUpRule,
    RevisionRule,
    day_of,
    local,
    midnight,
    next_send_slot,
    term_end,
)

PERSON_TIME = time(12, 0)
UNIT = "prov: ansvarig enhet"
OWNER = "prov: processägaren"
RETRIES = 40
MAX_SAME_INSTANT = 200
MAX_ITERATIONS_PER_YEAR = 1500


def _close(session: Any, *, now: datetime) -> None:
    """`samverkan close`: the process owner closes an agreement whose term has ended."""
    parties.close_agreement(session, agreement_id=AGREEMENT_ID, by=OWNER, why="giltighetstiden är slut", now=now)


def commitment_id(effort: str, party: str) -> str:
    return f"{AGREEMENT_ID}.{effort}.{party}"


@dataclass(frozen=True, kw_only=True)
class Action:
    """One thing a person did (or tried to do)."""

    at: datetime
    kind: str  # follow_up | open_revision | decide | complete | terminate | close
    ok: bool
    commitment: str | None = None
    period: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class Completion:
    """A revision completed by the process owner: what the adopted plan holds."""

    at: datetime
    step: int  # the n of the deadline the owner acted on (counted from signing)
    engine_revision: int  # the revision number the engine completed
    valid_to: date | None
    decisions: dict[str, str]  # commitment → keep/change/remove
    state_before: dict[str, tuple[str, int]]  # commitment → (state, period) when a decision made it reviderad
    plan: tuple[EffortSpec, ...]
    added: tuple[str, ...]  # commitments in this plan that the previous plan did not have
    removed: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Row:
    """An outbox row at the end of the run."""

    id: int
    key: str
    kind: str
    state: str
    send_at: datetime
    sent_at: datetime | None
    created_at: datetime
    commitment_id: str | None
    period: int | None
    recipients: tuple[str, ...]
    data: dict[str, Any]
    last_error: str | None
    message_id: str | None = None
    group_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class Move:
    """A row of the transition log."""

    commitment: str
    at: datetime
    trigger: str
    from_state: str
    to_state: str
    by: str
    why: str


@dataclass(kw_only=True)
class Run:
    case: Case
    start: datetime
    stop: datetime
    reached: datetime
    ended: bool = False
    stuck: str | None = None
    iterations: int = 0
    seconds: float = 0.0
    ticks: list[tuple[datetime, list[tuple[Any, ...]]]] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    completions: list[Completion] = field(default_factory=list)
    deliveries: list[tuple[datetime, int]] = field(default_factory=list)  # (at, notices sent)
    outages: list[tuple[datetime, datetime]] = field(default_factory=list)
    termination: tuple[datetime, date] | None = None  # (announced at, effective from)
    closed_at: datetime | None = None
    outbox: list[Row] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    follow_ups: list[tuple[str, int, int, datetime]] = field(default_factory=list)  # (c, period, version, at)
    revisions: list[tuple[int, date, datetime, str, datetime | None]] = field(default_factory=list)
    decisions: list[tuple[int, str, str, datetime]] = field(default_factory=list)  # (revision, c, decision, at)
    final_agreement: dict[str, Any] = field(default_factory=dict)
    eml_files: int = 0
    final: dict[str, tuple[str, int]] = field(default_factory=dict)  # commitment → (state, period) at the end
    derived: dict[str, Any] = field(default_factory=dict)  # what the tests compute from the run, once

    @property
    def spec(self) -> Any:
        return self.case.agreement

    @property
    def until(self) -> datetime:
        """How far the run got: the horizon when it ended by itself, else where it stopped."""
        return self.stop if self.ended else self.reached

    def summary(self, limit: int = 10_000) -> str:
        """What happened, for a failing example's report: the people's steps and how the run ended."""
        lines = [
            f"run {self.start.date()} → {self.stop.date()}: reached {self.reached.isoformat()}, "
            f"{self.iterations} steps, {len(self.outbox)} notices, {len(self.deliveries)} deliveries"
            + (f", STUCK: {self.stuck}" if self.stuck else "")
        ]
        for a in self.actions:
            what = a.kind + (f" {a.commitment}" if a.commitment else "") + (f" P{a.period}" if a.period else "")
            extra = f" {a.detail}" if a.detail else ""
            lines.append(f"  {a.at.isoformat()} {what}{extra}" + ("" if a.ok else f" REFUSED: {a.error}"))
        for start, end in self.outages:
            lines.append(f"  mail server down {start.isoformat()} → {end.isoformat()}")
        if len(lines) > limit:
            lines = [*lines[:limit], f"  … {len(lines) - limit} more lines"]
        return "\n".join(lines)


class _Driver:
    def __init__(self, case: Case, mail_dir: Path) -> None:
        self.case = case
        spec = case.agreement
        self.spec = spec
        self.fu = FollowUpRule(
            due_md=spec.due,
            offsets=spec.offsets,
            overdue_repeat_days=spec.overdue_repeat_days,
            escalation_after_days=spec.escalation_after_days,
            send_time=spec.send_time,
        )
        self.rev = RevisionRule(
            signed=spec.signed,
            every_years=spec.every_years,
            kickoff_days_before=spec.kickoff_days_before,
            late_repeat_days=spec.late_repeat_days,
            send_time=spec.send_time,
        )
        self.slots = {commitment_id(e, p): i for i, (e, p) in enumerate(spec.slots())}
        self.start = midnight(spec.signed)
        self.stop = midnight(add_years(spec.signed, case.years))
        self.settings = Settings(mailer="file", mail_dir=mail_dir)
        self.mail_dir = mail_dir
        self.engine = db.connect("sqlite://")
        db.upgrade(self.engine)
        self.run = Run(case=case, start=self.start, stop=self.stop, reached=self.start)
        self.run.outages = sorted(self._outage(o) for o in case.script.outages)
        # The plan in force, as the harness wrote it (the revised files are built from it).
        self.plan: list[EffortSpec] = list(spec.efforts)
        self.valid_to = spec.valid_to
        self.removed: list[tuple[str, CommitmentSpec]] = []  # (effort id, commitment) removed, oldest first
        self.reserve = list(spec.reserve)
        self.originals = {e.id: e for e in (*spec.efforts, *spec.reserve)}
        # Follow-up attempts: (commitment, period) → (tries so far, not before).
        self.tries: dict[tuple[str, int], tuple[int, datetime]] = {}
        self.gave_up: set[tuple[str, int]] = set()
        self.reported: set[tuple[str, int]] = set()  # a unit that has reported a period does not report it again
        self.open: dict[str, tuple[str, int]] = {}  # commitment → (state, period), as the engine holds it
        self.revision_n: int | None = 1  # the next deadline (counted from signing) the owner acts on; None: no more
        self.engine_revision = 1  # the number the engine gave the revision the owner last opened
        self.last_revision_at: datetime | None = None
        self.terminated_at: datetime | None = None
        self.effective: date | None = None
        self.closed = False
        # commitment → (state, period) when a decision last moved it to reviderad (pågående or uppföljd)
        self.revised_from: dict[str, tuple[str, int]] = {}

    def _outage(self, o: Outage) -> tuple[datetime, datetime]:
        if o.anchor == "due":
            anchor = self.fu.due(self.spec.signed.year + o.index)
        elif o.anchor == "kickoff":
            deadline = self.rev.deadline(o.index + 1, self.spec.valid_to) or self.spec.signed
            anchor = day_of(self.rev.kickoff_at(deadline))
        else:
            anchor = self.spec.signed
        down = anchor + timedelta(days=o.offset)
        return midnight(down), midnight(down + timedelta(days=o.days))

    # -- the clock ---------------------------------------------------------------------------

    def drive(self) -> Run:
        run = self.run
        with db.transaction(self.engine) as s:
            load_plan(s, parse(self.spec), now=self.start)
        self._refresh()
        now = self.start
        same = 0
        bound = MAX_ITERATIONS_PER_YEAR * self.case.years
        while True:
            run.iterations += 1
            if run.iterations > bound:
                run.stuck = f"more than {bound} steps (at {now.isoformat()})"
                break
            rule_at = next_wakeup(self.engine)
            person_at, person = self._next_person(now)
            send_at = self._next_delivery(now)
            candidates = [t for t in (rule_at, person_at, send_at) if t is not None]
            if not candidates:
                run.ended = True
                break
            t = min(candidates)
            if t >= self.stop:
                run.ended = True
                break
            if t > now:
                now, same = t, 0
            else:
                same += 1
                if same > MAX_SAME_INSTANT:
                    run.stuck = f"the same instant {now.isoformat()} repeated {same} times (next_wakeup {rule_at})"
                    break
            run.reached = now
            try:
                if rule_at is not None and rule_at <= now:
                    self._tick(now)
                elif person is not None and person_at is not None and person_at <= now:
                    person(now)
                else:
                    self._deliver(now)
            except Exception as exc:  # the engine crashed: the run ends here, and says so
                run.stuck = f"{type(exc).__name__} at {now.isoformat()}: {exc}\n{traceback.format_exc(limit=6)}"
                break
        self._collect()
        return run

    def _tick(self, now: datetime) -> None:
        report = tick(self.engine, now)
        events: list[tuple[Any, ...]] = []
        moved = False
        for e in report.events:
            if isinstance(e, TransitionApplied):
                events.append(("transition", e.commitment, e.trigger, e.from_state, e.to_state))
                moved = True
            elif isinstance(e, NoticeQueued):
                events.append(("notice", e.notice.key, e.notice.kind, e.notice.send_at))
        self.run.ticks.append((now, events))
        if moved:
            self._refresh()

    def _deliver(self, now: datetime) -> None:
        report = deliver(self.engine, now, self.settings)
        self.run.deliveries.append((now, report.sent))

    def _next_delivery(self, now: datetime) -> datetime | None:
        pending = next_send(self.engine)
        if pending is None:
            return None
        at = next_send_slot(max(pending, now), self.spec.send_time)
        for down, up in self.run.outages:
            if down <= at < up:
                at = next_send_slot(up, self.spec.send_time)
        return at

    def _refresh(self) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(select(Commitment.id, Commitment.state, Commitment.period)).all()
        self.open = {cid: (state, period) for cid, state, period in rows}

    # -- the people --------------------------------------------------------------------------

    def _next_person(self, now: datetime) -> tuple[datetime | None, Any]:
        best: tuple[datetime | None, Any] = (None, None)

        def consider(at: datetime | None, fn: Any) -> None:
            nonlocal best
            if at is not None and (best[0] is None or at < best[0]):
                best = (at, fn)

        for cid, (state, period) in sorted(self.open.items()):
            if state == "pågående":
                consider(self._report_at(cid, period, now), lambda t, c=cid, p=period: self._follow_up(t, c, p))
        consider(*self._next_revision(now))
        script = self.case.script
        if script.termination is not None and self.terminated_at is None:
            at = local(self.spec.signed + timedelta(days=script.termination.announce_day), PERSON_TIME)
            consider(at if at >= now else None, self._terminate)
        return best

    def _report_at(self, cid: str, period: int, now: datetime) -> datetime | None:
        if (cid, period) in self.gave_up or (cid, period) in self.reported or cid not in self.slots:
            return None
        report = self._script_report(cid, period)
        due = self.fu.due(period)
        if report.kind == "never":
            return None
        if report.kind == "late":
            at = local(due + timedelta(days=report.days), PERSON_TIME)
        else:
            # On time: on the due day or some days before, but not before reporting opens.
            at = max(
                local(due - timedelta(days=report.days), PERSON_TIME), local(day_of(self.fu.opens(period)), PERSON_TIME)
            )
        tries = self.tries.get((cid, period))
        if tries is not None:
            at = max(at, tries[1])
        return at if at >= now else _next_noon(now)

    def _script_report(self, cid: str, period: int) -> Report:
        return self.case.script.report(self.slots[cid], period - self.spec.signed.year)

    def _follow_up(self, now: datetime, cid: str, period: int) -> None:
        report = self._script_report(cid, period)
        effort = self._effort_of(cid)
        party = cid.rsplit(".", 1)[1]
        values: dict[str, Any] = {}
        for m in effort.measures:
            if m.parties is not None and party not in m.parties:
                continue
            if m.kind == "text":
                values[m.id] = "Redovisat."
            elif m.target is not None:
                values[m.id] = m.target - 1 if report.below else m.target
            else:
                values[m.id] = 0 if report.below else 1
        try:
            with db.transaction(self.engine) as s:
                service.record_follow_up(
                    s, cid, period=period, values=values, comment="Uppföljning enligt plan.", by=UNIT, now=now
                )
        except SamverkanError as exc:
            tries, _ = self.tries.get((cid, period), (0, now))
            self.tries[(cid, period)] = (tries + 1, _next_noon(now + timedelta(minutes=1)))
            if tries + 1 >= RETRIES:
                self.gave_up.add((cid, period))
            self.run.actions.append(
                Action(at=now, kind="follow_up", ok=False, commitment=cid, period=period, error=str(exc))
            )
        else:
            self.reported.add((cid, period))
            self.run.actions.append(
                Action(at=now, kind="follow_up", ok=True, commitment=cid, period=period, detail={"values": values})
            )
        self._refresh()

    def _effort_of(self, cid: str) -> EffortSpec:
        effort_id = cid.split(".")[1]
        for e in self.plan:
            if e.id == effort_id:
                return e
        return self.originals[effort_id]

    def _terminate(self, now: datetime) -> None:
        script = self.case.script
        assert script.termination is not None
        effective = day_of(now) + timedelta(days=script.termination.notice_days)
        self.terminated_at = now
        try:
            with db.transaction(self.engine) as s:
                parties.terminate(
                    s, party=script.termination.party, effective=effective, reason="Provet avslutas.", by=OWNER, now=now
                )
        except SamverkanError as exc:
            self.run.actions.append(Action(at=now, kind="terminate", ok=False, error=str(exc)))
        else:
            self.effective = effective
            self.run.termination = (now, effective)
            self.run.actions.append(Action(at=now, kind="terminate", ok=True, detail={"effective": str(effective)}))
        self._refresh()

    # -- revisions ------------------------------------------------------------------------------

    def _next_revision(self, now: datetime) -> tuple[datetime | None, Any]:
        if self.terminated_at is not None or self.closed:
            return None, None
        if self.revision_n is None:
            return self._next_close(now)
        deadline = self.rev.deadline(self.revision_n, self.valid_to)
        if deadline is None:
            return self._next_close(now)
        step = self.case.script.revision(self.revision_n)
        day = deadline + timedelta(days=step.delta_days)
        if self.valid_to is not None:
            day = min(day, self.valid_to)  # nobody revises a plan whose term is over
        at = max(local(day, PERSON_TIME), local(day_of(self.rev.kickoff_at(deadline)), PERSON_TIME))
        if self.last_revision_at is not None and at <= self.last_revision_at:
            at = _next_noon(self.last_revision_at + timedelta(minutes=1))
        if at < now:
            at = _next_noon(now)
        ends = term_end(self.valid_to)
        if ends is not None and at >= ends:
            return self._next_close(now)
        return at, lambda t: self._revise(t, deadline)

    def _next_close(self, now: datetime) -> tuple[datetime | None, Any]:
        """A fixed term over without renewal: the owner may close the agreement (spec: `samverkan close`)."""
        ends = term_end(self.valid_to)
        days = self.case.script.close_days
        if ends is None or self.closed or days is None:
            return None, None
        at = max(local(day_of(ends) + timedelta(days=days), PERSON_TIME), _next_noon(now))
        return at, self._close

    def _close(self, now: datetime) -> None:
        self.closed = True
        try:
            with db.transaction(self.engine) as s:
                _close(s, now=now)
        except SamverkanError as exc:
            self.run.actions.append(Action(at=now, kind="close", ok=False, error=str(exc)))
        else:
            self.run.closed_at = now
            self.run.actions.append(Action(at=now, kind="close", ok=True))
        self._refresh()

    def _revise(self, now: datetime, deadline: date) -> None:
        n = self.revision_n
        assert n is not None
        self.last_revision_at = now
        completed = False
        self.engine_revision = n
        try:
            completed = self._revision_steps(now, n, deadline)
        finally:
            today = day_of(now)
            # The engine may have replaced revision n by a later one whose kick-off came first
            # (docs/rules.md): what it completed is that one, and the next comes after it.
            done = max(n, self.engine_revision)
            self.revision_n = self.rev.next_after(done, today, self.valid_to) if completed else n + 1
            self._refresh()

    def _revision_steps(self, now: datetime, n: int, deadline: date) -> bool:
        step = self.case.script.revision(n)
        run = self.run
        try:
            with db.transaction(self.engine) as s:
                revision = open_revision(s, by=OWNER, now=now, agreement_id=AGREEMENT_ID)
                number, by_hand = revision.number, revision.opened_by == OWNER
                self.engine_revision = number
        except SamverkanError as exc:
            run.actions.append(Action(at=now, kind="open_revision", ok=False, detail={"n": n}, error=str(exc)))
            return False
        run.actions.append(
            Action(
                at=now,
                kind="open_revision",
                ok=True,
                detail={"n": n, "deadline": str(deadline), "engine_revision": number, "by_hand": by_hand},
            )
        )
        live = sorted(cid for cid, (state, _) in self.open.items() if state != "avslutad")
        planned = {cid: (step.decisions[i] if i < len(step.decisions) else "keep") for i, cid in enumerate(live)}
        in_plan = {commitment_id(e.id, c.party) for e in self.plan for c in e.commitments}
        if step.complete and in_plan and all(planned.get(cid) == "remove" for cid in in_plan):
            planned[live[0]] = "keep"  # a file has at least one effort: the last one stays
        to_decide = live if step.complete else live[: len(step.decisions)]
        before = dict(self.open)
        decided: dict[str, str] = {}
        for cid in to_decide:
            decision = planned[cid]
            try:
                with db.transaction(self.engine) as s:
                    decide(s, cid, decision, text=f"revision {n}: {decision}", by=OWNER, now=now)
            except SamverkanError as exc:
                run.actions.append(Action(at=now, kind="decide", ok=False, commitment=cid, error=str(exc)))
            else:
                decided[cid] = decision
                if before[cid][0] in ("pågående", "uppföljd"):
                    self.revised_from[cid] = before[cid]
                run.actions.append(
                    Action(at=now, kind="decide", ok=True, commitment=cid, detail={"decision": decision})
                )
        self._refresh()
        if not step.complete:
            return False
        plan, valid_to, added, removed = self._revised_plan(n, decided, now)
        try:
            new = parse(self.spec, plan, valid_to)
            with db.transaction(self.engine) as s:
                done = complete(s, new, by=OWNER, now=now)
        except SamverkanError as exc:
            run.actions.append(Action(at=now, kind="complete", ok=False, detail={"n": n}, error=str(exc)))
            return False
        run.actions.append(
            Action(
                at=now,
                kind="complete",
                ok=True,
                detail={
                    "n": n,
                    "engine_revision": done.revision,
                    "next_due": done.next_due,
                    "added": list(added),
                    "removed": list(removed),
                    **({"valid_to": str(valid_to)} if valid_to != self.valid_to else {}),
                },
            )
        )
        for cid in removed:
            effort_id = cid.split(".")[1]
            self.removed.append((effort_id, self._effort_of(cid).commitment(cid.rsplit(".", 1)[1])))
        self.removed = [(e, c) for e, c in self.removed if commitment_id(e, c.party) not in added]
        run.completions.append(
            Completion(
                at=now,
                step=n,
                engine_revision=done.revision,
                valid_to=valid_to,
                decisions=decided,
                state_before={cid: self.revised_from.pop(cid) for cid in decided if cid in self.revised_from},
                plan=tuple(plan),
                added=tuple(added),
                removed=tuple(removed),
            )
        )
        self.plan = list(plan)
        self.valid_to = valid_to
        return True

    def _revised_plan(
        self, n: int, decided: dict[str, str], now: datetime
    ) -> tuple[list[EffortSpec], date | None, list[str], list[str]]:
        """The revised file: decisions applied, maybe an effort back from an earlier revision, maybe a new one."""
        step = self.case.script.revision(n)
        plan: list[EffortSpec] = []
        removed: list[str] = []
        for e in self.plan:
            kept = []
            for c in e.commitments:
                cid = commitment_id(e.id, c.party)
                decision = decided.get(cid, "keep")
                if decision == "remove":
                    removed.append(cid)
                    continue
                if decision == "change":
                    c = dataclasses.replace(c, text=f"{c.text} Ändrad i revision {n}.")
                kept.append(c)
            if kept:
                plan.append(self._with(e, tuple(kept)))
        added: list[str] = []
        if step.readd and self.removed:
            effort_id = self.removed[0][0]
            back = [c for e, c in self.removed if e == effort_id]
            index = next((i for i, e in enumerate(plan) if e.id == effort_id), None)
            if index is None:
                plan.append(self._with(self.originals[effort_id], tuple(back)))
            else:
                plan[index] = self._with(plan[index], (*plan[index].commitments, *back))
            added += [commitment_id(effort_id, c.party) for c in back]
        if step.add_new and self.reserve:
            new = self.reserve.pop(0)
            plan.append(new)
            added += [commitment_id(new.id, c.party) for c in new.commitments]
        valid_to = self.valid_to
        if valid_to is not None and step.renew_years:
            valid_to = add_years(valid_to, step.renew_years)
        return plan, valid_to, added, removed

    def _with(self, effort: EffortSpec, commitments: tuple[CommitmentSpec, ...]) -> EffortSpec:
        """``effort`` with these commitments; a measure only for a party no longer in it goes too."""
        parties = {c.party for c in commitments}
        measures = tuple(
            m for m in self.originals[effort.id].measures if m.parties is None or set(m.parties) <= parties
        )
        return dataclasses.replace(effort, commitments=commitments, measures=measures)

    # -- the record ------------------------------------------------------------------------------

    def _collect(self) -> None:
        run = self.run
        self._refresh()
        run.final = dict(self.open)
        with db.transaction(self.engine) as s:
            run.outbox = [
                Row(
                    id=r.id,
                    key=r.key,
                    kind=r.kind,
                    state=r.state,
                    send_at=r.send_at,
                    sent_at=r.sent_at,
                    created_at=r.created_at,
                    commitment_id=r.commitment_id,
                    period=r.period,
                    recipients=tuple(r.recipients),
                    data=dict(r.data),
                    last_error=r.last_error,
                    message_id=r.message_id,
                    group_key=r.group_key,
                )
                for r in s.scalars(select(OutboxRow).order_by(OutboxRow.id))
            ]
            run.moves = [
                Move(
                    commitment=m.commitment_id,
                    at=m.at,
                    trigger=m.trigger,
                    from_state=m.from_state,
                    to_state=m.to_state,
                    by=m.by,
                    why=m.why,
                )
                for m in s.scalars(select(TransitionRecord).order_by(TransitionRecord.id))
            ]
            run.follow_ups = [
                (f.commitment_id, f.period, f.version, f.recorded_at)
                for f in s.scalars(select(FollowUp).order_by(FollowUp.id))
            ]
            revisions = {r.id: r for r in s.scalars(select(Revision).order_by(Revision.id))}
            run.revisions = [(r.number, r.due, r.opened_at, r.opened_by, r.completed_at) for r in revisions.values()]
            run.decisions = [
                (revisions[d.revision_id].number, d.commitment_id, d.decision, d.decided_at)
                for d in s.scalars(select(RevisionDecision).order_by(RevisionDecision.id))
            ]
            a = s.get(AgreementRow, AGREEMENT_ID)
            assert a is not None
            run.final_agreement = {
                "revision_number": a.revision_number,
                "revision_due": a.revision_due,
                "terminates": a.terminates,
                "valid_to": a.valid_to,
                "plan_version": a.plan_version,
            }
        run.eml_files = sum(1 for p in self.mail_dir.iterdir() if p.suffix == ".eml") if self.mail_dir.exists() else 0
        self.engine.dispose()


def _next_noon(t: datetime) -> datetime:
    """12:00 local at or after ``t``."""
    noon = local(day_of(t), PERSON_TIME)
    return noon if noon >= t else local(day_of(t) + timedelta(days=1), PERSON_TIME)


# -- engine.simulate on the same file ---------------------------------------------------------------

SIMULATE_EVENTS_PER_YEAR = 4000  # a decade of Borås is ~1,500 events; a loop is far more
SIMULATE_SAME_INSTANT = 100  # events at one instant (a generated plan reporting at once is at most ~40)
SIMULATE_SECONDS = 60  # wall clock, in case a loop yields nothing at all


class _Alarm(Exception):
    pass


def simulate_ends(case: Case) -> str | None:
    """Run ``engine.simulate.simulate`` (the CLI's `samverkan simulate`) on the file of a fixed term, from a
    year before the term's end to a year after it; None when it ends by itself, else what went wrong.

    Issue 11, points 3 and 4: it spun completing revision 3, 4, 5 … at one instant after the term.
    """
    from engine.simulate import simulate

    spec = case.agreement
    if spec.valid_to is None:
        return None
    start = max(spec.signed, add_years(spec.valid_to, -1))
    end = add_years(spec.valid_to, 1)
    bound = SIMULATE_EVENTS_PER_YEAR * 2
    armed = _can_alarm()
    previous = signal.getsignal(signal.SIGALRM) if armed else None

    def alarm(signum: int, frame: Any) -> None:
        raise _Alarm

    if armed:
        signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, SIMULATE_SECONDS)
    events = same = 0
    last: datetime | None = None
    try:
        for event in simulate([parse(spec)], start, end):
            events += 1
            same = same + 1 if event.at == last else 0
            last = event.at
            if same > SIMULATE_SAME_INSTANT:
                return (
                    f"simulate {start} → {end}: {same} events at {event.at.isoformat()} ({event.kind} {event.details})"
                )
            if events > bound:
                return f"simulate {start} → {end}: more than {bound} events (at {event.at.isoformat()})"
    except _Alarm:
        return f"simulate {start} → {end}: still running after {SIMULATE_SECONDS} s (at {last})"
    except SamverkanError as exc:
        return f"simulate {start} → {end} stopped: {exc}"
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return None


def _can_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@dataclass
class Stats:
    runs: int = 0
    reused: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    steps: int = 0


STATS = Stats()
_RUNS: dict[Case, Run] = {}
KEEP = 4096


def cached_run(case: Case) -> Run:
    """``run_case``, once per case: every property test draws the same cases and reads the same run."""
    found = _RUNS.get(case)
    if found is not None:
        STATS.reused += 1
        return found
    run = run_case(case)
    STATS.runs += 1
    STATS.seconds += run.seconds
    STATS.slowest = max(STATS.slowest, run.seconds)
    STATS.steps += run.iterations
    if len(_RUNS) >= KEEP:
        _RUNS.clear()
    _RUNS[case] = run
    return run


def run_case(case: Case) -> Run:
    """Run the real engine over ``case`` and return everything that happened."""
    began = wallclock.perf_counter()
    # In memory where the machine has it: the FileMailer writes every sent notice as an .eml file.
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(prefix="samverkan-props-", dir=shm if shm.is_dir() else None) as tmp:
        run = _Driver(case, Path(tmp) / "mail").drive()
    run.seconds = wallclock.perf_counter() - began
    return run
