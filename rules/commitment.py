"""Every rule that concerns one commitment, evaluated together.

Date moves are applied to the view first, through ``rules.lifecycle.move`` (a
commitment that starts today gets today's reminder too), then the follow-up rule runs
on the resulting state. Each move carries what ``move`` made of the commitment, so the
tick writes exactly that. The result's ``next_check`` is the earliest instant at which
any of the rules has something to do; the engine stores it, indexed, so the next tick
asks only for what is due.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from rules import dates, follow_up
from rules.calendar import SwedishCalendar
from rules.lifecycle import move
from rules.model import Action, CommitmentView, FireTrigger, Outcome, Schedule

# start, then an end or a new period, then an end: a bound that a wrong table cannot loop past.
_MAX_MOVES = 4


def apply_move(c: CommitmentView, fire: FireTrigger, s: Schedule, now: datetime, cal: SwedishCalendar) -> FireTrigger:
    moved = move(c.id, c.state, c.period, fire.trigger, at=now, due_md=s.due_md, calendar=cal)
    return replace(fire, moved=moved)


def evaluate(c: CommitmentView, s: Schedule, now: datetime, cal: SwedishCalendar) -> Outcome:
    actions: list[Action] = []
    for _ in range(_MAX_MOVES):
        found = dates.evaluate(c, s, now, cal)
        fires = [a for a in found.actions if isinstance(a, FireTrigger)]
        if not fires:
            break
        for fire in fires:
            fire = apply_move(c, fire, s, now, cal)
            assert fire.moved is not None
            actions.append(fire)
            # The move says the due date of the period it leaves open (an extension stays behind).
            c = replace(c, state=fire.moved.state, period=fire.moved.period, due=fire.moved.next_due)
    else:
        raise AssertionError(f"{c.id}: more than {_MAX_MOVES} moves at {now}")
    notices = follow_up.evaluate(c, s, now, cal)
    actions.extend(notices.actions)
    candidates = [t for t in (found.next_check, notices.next_check) if t is not None]
    next_check = min(candidates) if candidates else None
    if next_check is not None and next_check <= now:
        raise AssertionError(f"rule for {c.id} asked to be woken in the past ({next_check} <= {now})")
    return Outcome(actions=tuple(actions), next_check=next_check)
