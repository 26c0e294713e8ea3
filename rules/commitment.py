"""Every rule that concerns one commitment, evaluated together.

Date moves are applied to the view first (a commitment that starts today gets
today's reminder too), then the follow-up rule runs on the resulting state. The
result's ``next_check`` is the earliest instant at which any of them has something
to do; the engine stores it, indexed, so the next tick asks only for what is due.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from engine.lifecycle import next_state
from rules import dates, follow_up
from rules.calendar import SwedishCalendar
from rules.model import Action, CommitmentView, FireTrigger, Outcome, Schedule

_MAX_MOVES = 4  # start → (nothing else can follow in the same instant); bounds a bad table


def apply_move(c: CommitmentView, move: FireTrigger) -> CommitmentView:
    state = next_state(c.id, c.state, move.trigger)
    return replace(c, state=state, period=c.period + 1 if move.trigger == "new_period" else c.period)


def evaluate(c: CommitmentView, s: Schedule, now: datetime, cal: SwedishCalendar) -> Outcome:
    actions: list[Action] = []
    for _ in range(_MAX_MOVES):
        moved = dates.evaluate(c, s, now, cal)
        moves = [a for a in moved.actions if isinstance(a, FireTrigger)]
        if not moves:
            break
        for move in moves:
            actions.append(move)
            c = apply_move(c, move)
    else:
        moved = dates.evaluate(c, s, now, cal)
    # The evaluation that found no move already knows the next date-driven instant.
    date_next = moved.next_check
    notices = follow_up.evaluate(c, s, now, cal)
    actions.extend(notices.actions)
    candidates = [t for t in (date_next, notices.next_check) if t is not None]
    next_check = min(candidates) if candidates else None
    if next_check is not None and next_check <= now:
        raise AssertionError(f"rule for {c.id} asked to be woken in the past ({next_check} <= {now})")
    return Outcome(actions=tuple(actions), next_check=next_check)
