"""The commitment lifecycle, declared once, as data, and ``move``: the one place a move is computed.

Rules of this module:

* The states and triggers are exactly those of the table below. ``restore`` (avslutad →
  planerad) is fired only by loading a plan that brings an ended commitment back.
* ``move`` decides everything a move changes: the new state, the open period, the next
  due date and whether the rules must look at the commitment again. The tick, the
  service (CLI and web), plan loading, revisions and ``simulate`` all call it; nothing
  else computes a period or a state.
* The open period P changes only here: ``new_period`` opens P+1; ``reinstate`` opens
  P+1 when P's follow-up is already recorded (a revision never re-opens a reported
  period); ``restore`` opens the period the loader computed for a commitment that is
  back in the plan.

One ``transitions.Machine`` is built at import and never bound to rows: a row's state
is copied onto a small ``_Subject``, the event is fired on it, and the resulting
state is read back. Binding every row as a model costs O(n) memory and, with
``add_model`` one at a time, O(n²) time (LIBRARIES.md; bench/lifecycle.py measures
it here); firing an event on a plain object costs about 10 µs.

The machine has no callbacks, so a refused move changes nothing, and the caller
(engine.service) writes the new state and its history row in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from transitions import Machine, MachineError

from rules.calendar import SwedishCalendar
from rules.errors import TransitionNotAllowed, UnknownState, UnknownTrigger

PLANERAD: Final = "planerad"
PAGAENDE: Final = "pågående"
UPPFOLJD: Final = "uppföljd"
REVIDERAD: Final = "reviderad"
AVSLUTAD: Final = "avslutad"

STATES: Final = (PLANERAD, PAGAENDE, UPPFOLJD, REVIDERAD, AVSLUTAD)

# trigger, sources, destination, condition. The first row whose source and condition
# match wins, which is how reinstate returns to planerad before the new timeframe.
TABLE: Final[tuple[tuple[str, tuple[str, ...], str, str | None], ...]] = (
    ("start", (PLANERAD,), PAGAENDE, None),
    ("follow_up", (PAGAENDE,), UPPFOLJD, None),
    ("new_period", (UPPFOLJD,), PAGAENDE, None),
    ("revise", (PAGAENDE, UPPFOLJD), REVIDERAD, None),
    ("reinstate", (REVIDERAD,), PLANERAD, "not timeframe_begun"),
    ("reinstate", (REVIDERAD,), PAGAENDE, "timeframe_begun"),
    ("end", (PLANERAD, PAGAENDE, UPPFOLJD, REVIDERAD), AVSLUTAD, None),
    ("restore", (AVSLUTAD,), PLANERAD, None),
)

TRIGGERS: Final = tuple(dict.fromkeys(row[0] for row in TABLE))

# What a person may type for a state: the Swedish spelling or its ASCII form.
_ASCII = str.maketrans({"å": "a", "ä": "a", "ö": "o"})
_STATE_ALIASES: Final = {s: s for s in STATES} | {s.translate(_ASCII): s for s in STATES}


def parse_state(text: str) -> str:
    """A state as typed by a person (``pagaende`` or ``pågående``) → the stored value."""
    state = _STATE_ALIASES.get(text.strip().lower())
    if state is None:
        raise UnknownState(text, STATES)
    return state


def parse_trigger(text: str) -> str:
    trigger = text.strip().lower().replace("-", "_")
    if trigger not in TRIGGERS:
        raise UnknownTrigger(text, TRIGGERS)
    return trigger


def _build() -> Machine:
    transitions = []
    for trigger, sources, dest, condition in TABLE:
        row: dict[str, object] = {"trigger": trigger, "source": list(sources), "dest": dest}
        if condition is not None:
            negate, _, name = condition.rpartition(" ")
            row["unless" if negate == "not" else "conditions"] = [name]
        transitions.append(row)
    return Machine(
        model=None,
        states=list(STATES),
        transitions=transitions,
        initial=None,
        auto_transitions=False,
        # A wrong move must raise, never pass silently (LIBRARIES.md).
        ignore_invalid_triggers=False,
    )


_MACHINE: Final = _build()


@dataclass
class _Subject:
    state: str
    timeframe_begun: bool


def next_state(commitment: str, state: str, trigger: str, *, timeframe_begun: bool = True) -> str:
    """The state ``trigger`` leads to from ``state``, or TransitionNotAllowed.

    ``timeframe_begun`` decides where ``reinstate`` goes: pågående when the revised
    timeframe has begun, planerad when it has not.
    """
    if trigger not in TRIGGERS:
        raise UnknownTrigger(trigger, TRIGGERS)
    if state not in STATES:
        raise UnknownState(state, STATES)
    subject = _Subject(state=state, timeframe_begun=timeframe_begun)
    try:
        moved = _MACHINE.events[trigger].trigger(subject)
    except MachineError:
        raise TransitionNotAllowed(commitment, trigger, state) from None
    if not moved:
        raise TransitionNotAllowed(commitment, trigger, state)
    return subject.state


def allowed_triggers(state: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t for t, sources, _, _ in TABLE if state in sources))


@dataclass(frozen=True, kw_only=True)
class Moved:
    """What one move makes of a commitment: the row's new state, open period and dates."""

    commitment: str
    trigger: str
    from_state: str
    state: str
    period: int
    # The report due for ``period`` (working-day moved); None once the commitment has ended.
    next_due: date | None
    # When the rules must look at it again: at once after any move, never once it has ended.
    next_check: datetime | None


def move(
    commitment: str,
    state: str,
    period: int,
    trigger: str,
    *,
    at: datetime,
    due_md: str,
    calendar: SwedishCalendar,
    timeframe_begun: bool = True,
    reported: bool = False,
    restored_period: int | None = None,
) -> Moved:
    """Fire ``trigger`` on a commitment in ``state`` with open period ``period``, or raise.

    ``timeframe_begun`` decides where ``reinstate`` (and nothing else) goes;
    ``reported`` says whether the open period's follow-up is recorded, which decides
    whether ``reinstate`` keeps the period or opens the next; ``restored_period`` is the
    period a ``restore`` opens (required for it).
    """
    new_state = next_state(commitment, state, trigger, timeframe_begun=timeframe_begun)
    if trigger == "new_period" or (trigger == "reinstate" and reported):
        period += 1
    elif trigger == "restore":
        if restored_period is None:
            raise ValueError("restore needs the period the plan opens")
        period = restored_period
    ended = new_state == AVSLUTAD
    return Moved(
        commitment=commitment,
        trigger=trigger,
        from_state=state,
        state=new_state,
        period=period,
        next_due=None if ended else calendar.follow_up_due(period, due_md),
        next_check=None if ended else at,
    )
