"""What docs/rules.md says each commitment's life was, given what the people actually did in a run.

The engine's own state is not consulted: the inputs are the generated agreement, the harness's
record of the people's accepted actions (follow-ups, revision decisions and completions with the
plans they adopted, the termination, a close) and the spec's dates. The output, per commitment,
is when it was open (``pågående``) for which period and when it was ended; the properties
compare the engine's notices with it.

The lifecycle as docs/rules.md decides it ("Periods and reporting", "Lifecycle moves", "Fixed terms
after valid_to"):

* planerad → pågående for its first period at local midnight of its timeframe's start (at once
  if that has passed); first period at the first load: max(start year, first_period); for a
  commitment added later or restored: max(start year, first_period, the year it is adopted);
* pågående for P → uppföljd when P's follow-up is recorded;
* uppföljd for P → ended (tidsplanen är slut) when P is its last period, else pågående for P+1 at
  ``opens(P+1)`` (at once if that has passed);
* pågående or uppföljd → reviderad by a revision decision; when the revised plan is adopted, a
  kept or changed one is pågående for P+1 if P was recorded, else for P (ended at once if that is
  after its last period), a removed one ends;
* an effort back in the plan (or one whose term was renewed so that it has a period to follow
  again) is restored: planerad, with the same id;
* a termination ends everything at local midnight of its effective date; after a fixed term's
  last day a planerad or reviderad commitment ends; a close ends everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from tests.properties.agreements import AgreementSpec, EffortSpec
from tests.properties.harness import Completion, Run, commitment_id
from tests.properties.spec import FollowUpRule, day_of, last_period, midnight, term_end

PLANERAD, PAGAENDE, UPPFOLJD, REVIDERAD, AVSLUTAD, ABSENT = (
    "planerad",
    "pågående",
    "uppföljd",
    "reviderad",
    "avslutad",
    "absent",
)


@dataclass(kw_only=True)
class Life:
    """One commitment's life as the spec has it."""

    cid: str
    effort: EffortSpec
    born: datetime
    state: str = ABSENT
    period: int = 0
    since: datetime | None = None
    last_reported: int | None = None
    # (period, from, to): open (pågående) for the period; ``to`` None while still open at the end.
    open: list[tuple[int, datetime, datetime | None]] = field(default_factory=list)
    # (from, to, why): ended (or not in the plan); ``to`` when it was restored.
    dead: list[tuple[datetime, datetime | None, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.state not in (ABSENT, AVSLUTAD)

    def open_for(self, period: int, at: datetime) -> bool:
        return any(p == period and a <= at and (b is None or at < b) for p, a, b in self.open)

    def dead_at(self, at: datetime) -> str | None:
        for a, b, why in self.dead:
            if a <= at and (b is None or at < b):
                return why
        return None


class Model:
    def __init__(self, run: Run) -> None:
        spec: AgreementSpec = run.case.agreement
        self.run = run
        self.spec = spec
        self.fu = FollowUpRule(
            due_md=spec.due,
            offsets=spec.offsets,
            overdue_repeat_days=spec.overdue_repeat_days,
            escalation_after_days=spec.escalation_after_days,
            send_time=spec.send_time,
        )
        self.valid_to: date | None = spec.valid_to
        # (at, valid_to in force from then on)
        self.terms: list[tuple[datetime, date | None]] = [(run.start, spec.valid_to)]
        # A termination takes effect at local midnight of its effective day (or when recorded, if that is later).
        self.terminates: datetime | None = (
            max(midnight(run.termination[1]), run.termination[0]) if run.termination else None
        )
        self.lives: dict[str, Life] = {}
        self.end = run.reached
        self._load(run.start)
        self._replay()

    # -- queries ---------------------------------------------------------------------------------

    def valid_to_at(self, at: datetime) -> date | None:
        current = self.terms[0][1]
        for since, valid_to in self.terms:
            if since <= at:
                current = valid_to
        return current

    def live_at(self, at: datetime) -> bool:
        """Is any commitment live (in the plan and not ended) at ``at``?"""
        return any(life.born <= at and life.dead_at(at) is None for life in self.lives.values())

    # -- the replay ------------------------------------------------------------------------------

    def _start_period(self, effort: EffortSpec, adopted: datetime | None, after: int | None) -> int:
        start = (effort.start or self.spec.starts).year
        candidates = [start]
        if self.spec.first_period is not None:
            candidates.append(self.spec.first_period)
        if adopted is not None:
            candidates.append(day_of(adopted).year)
        if after is not None:
            candidates.append(after + 1)
        period = max(candidates)
        if adopted is None:
            # The first load takes over from the load day: a period already due counts as handled.
            while self.fu.due(period) < day_of(self.run.start):
                period += 1
        return period

    def _last(self, life: Life) -> int | None:
        return last_period(life.effort.end, self.valid_to)

    def _load(self, at: datetime) -> None:
        for e in self.spec.efforts:
            for c in e.commitments:
                cid = commitment_id(e.id, c.party)
                life = Life(cid=cid, effort=e, born=at)
                self.lives[cid] = life
                self._plan(life, at, self._start_period(e, None, None))

    def _plan(self, life: Life, at: datetime, period: int) -> None:
        life.state, life.period, life.since = PLANERAD, period, at
        last = self._last(life)
        if last is not None and period > last:
            self._end(life, at, "tidsplanen var slut")

    def _open(self, life: Life, at: datetime, period: int) -> None:
        life.state, life.period, life.since = PAGAENDE, period, at
        life.open.append((period, at, None))

    def _close_open(self, life: Life, at: datetime) -> None:
        if life.open and life.open[-1][2] is None:
            p, a, _ = life.open[-1]
            life.open[-1] = (p, a, at)

    def _end(self, life: Life, at: datetime, why: str) -> None:
        self._close_open(life, at)
        life.state, life.since = AVSLUTAD, at
        life.dead.append((at, None, why))

    def _revive(self, life: Life, at: datetime) -> None:
        if life.dead and life.dead[-1][1] is None:
            a, _, why = life.dead[-1]
            life.dead[-1] = (a, at, why)

    def _next_move(self, life: Life) -> tuple[datetime, str] | None:
        """The next date-driven move of ``life`` under the current term and termination."""
        if life.state in (ABSENT, AVSLUTAD):
            return None
        assert life.since is not None
        moves: list[tuple[datetime, str]] = []
        if self.terminates is not None:
            moves.append((max(self.terminates, life.since), "terminate"))
        ends = term_end(self.valid_to)
        if life.state == PLANERAD:
            begins = max(life.since, midnight(life.effort.start or self.spec.starts))
            if ends is not None and ends <= begins:
                moves.append((max(ends, life.since), "term"))
            else:
                moves.append((begins, "start"))
        elif life.state == UPPFOLJD:
            last = self._last(life)
            if last is not None and life.period >= last:
                moves.append((life.since, "last"))
            else:
                moves.append((max(life.since, self.fu.opens(life.period + 1)), "new_period"))
        elif life.state == REVIDERAD and ends is not None:
            moves.append((max(ends, life.since), "term"))
        return min(moves, key=lambda m: m[0]) if moves else None

    def _advance(self, until: datetime, *, inclusive: bool) -> None:
        for life in self.lives.values():
            while True:
                move = self._next_move(life)
                if move is None or move[0] > until or (not inclusive and move[0] == until):
                    break
                at, kind = move
                if kind == "terminate":
                    self._end(life, at, "uppsägningen gäller")
                elif kind == "term":
                    self._end(life, at, "giltighetstiden löpte ut")
                elif kind == "last":
                    self._end(life, at, "tidsplanen är slut")
                elif kind == "start":
                    self._open(life, at, life.period)
                elif kind == "new_period":
                    self._open(life, at, life.period + 1)

    def _replay(self) -> None:
        completions = iter(self.run.completions)
        for action in self.run.actions:
            if not action.ok:
                continue
            self._advance(action.at, inclusive=True)
            if action.kind == "follow_up":
                assert action.commitment is not None and action.period is not None
                self._report(self.lives[action.commitment], action.at, action.period)
            elif action.kind == "decide":
                assert action.commitment is not None
                life = self.lives[action.commitment]
                if life.state in (PAGAENDE, UPPFOLJD):
                    self._close_open(life, action.at)
                    life.state, life.since = REVIDERAD, action.at
            elif action.kind == "complete":
                self._complete(next(completions))
            elif action.kind == "close":
                for life in self.lives.values():
                    if life.live:
                        self._end(life, action.at, "avslutad av processägaren")
        self._advance(self.end, inclusive=True)

    def _report(self, life: Life, at: datetime, period: int) -> None:
        if not (life.state == PAGAENDE and life.period == period):
            life.notes.append(
                f"{at.isoformat()}: the engine took a follow-up for {period}; the spec has {life.state} {life.period}"
            )
        self._close_open(life, at)
        life.state, life.period, life.since = UPPFOLJD, period, at
        life.last_reported = period if life.last_reported is None else max(life.last_reported, period)

    def _complete(self, done: Completion) -> None:
        at = done.at
        if done.valid_to != self.valid_to:
            self.valid_to = done.valid_to
            self.terms.append((at, done.valid_to))
        in_plan = {commitment_id(e.id, c.party): e for e in done.plan for c in e.commitments}
        for cid, decision in sorted(done.decisions.items()):
            life = self.lives[cid]
            life.effort = in_plan.get(cid, life.effort)
            if decision == "remove":
                if life.live:
                    self._end(life, at, f"borttaget i revidering {done.step}")
                continue
            if life.state != REVIDERAD:
                continue
            period = life.period + 1 if life.last_reported == life.period else life.period
            last = self._last(life)
            if last is not None and period > last:
                life.period = period
                self._end(life, at, "tidsplanen är slut")
            elif midnight(life.effort.start or self.spec.starts) <= at:
                self._open(life, at, period)
            else:
                life.state, life.period, life.since = PLANERAD, period, at
        for cid in done.added:
            effort = in_plan[cid]
            known = self.lives.get(cid)
            if known is None:
                fresh = Life(cid=cid, effort=effort, born=at)
                self.lives[cid] = fresh
                self._plan(fresh, at, self._start_period(effort, at, None))
            elif not known.live:
                known.effort = effort
                self._revive(known, at)
                self._plan(known, at, self._start_period(effort, at, known.last_reported))
        # A renewed term: a commitment that ended with its (old) last period has periods to follow again.
        for cid, effort in sorted(in_plan.items()):
            life = self.lives[cid]
            if life.state != AVSLUTAD or cid in done.added or not life.dead:
                continue
            if life.dead[-1][2] != "tidsplanen är slut" or life.last_reported is None:
                continue
            last = last_period(effort.end, self.valid_to)
            if last is None or last > life.last_reported:
                life.effort = effort
                self._revive(life, at)
                self._plan(life, at, self._start_period(effort, at, life.last_reported))
