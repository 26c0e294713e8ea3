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
``add_model`` one at a time, O(n²) time (docs/libraries.md; bench/lifecycle.py measures
it here); firing an event on a plain object costs about 10 µs.

The machine has no callbacks, so a refused move changes nothing, and the caller
(engine.service) writes the new state and its history row in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Final

from transitions import Machine, MachineError

from rules.calendar import SwedishCalendar
from rules.errors import TransitionNotAllowed, UnknownState, UnknownTrigger


class State(StrEnum):
    """A commitment's state; the value is what the database stores (unchanged since 0001)."""

    PLANERAD = "planerad"
    PAGAENDE = "pågående"
    UPPFOLJD = "uppföljd"
    REVIDERAD = "reviderad"
    AVSLUTAD = "avslutad"


class Trigger(StrEnum):
    """What moves a commitment; the value is what history rows store and ``transition`` takes."""

    START = "start"
    FOLLOW_UP = "follow_up"
    NEW_PERIOD = "new_period"
    REVISE = "revise"
    REINSTATE = "reinstate"
    END = "end"
    RESTORE = "restore"


PLANERAD: Final = State.PLANERAD
PAGAENDE: Final = State.PAGAENDE
UPPFOLJD: Final = State.UPPFOLJD
REVIDERAD: Final = State.REVIDERAD
AVSLUTAD: Final = State.AVSLUTAD

STATES: Final = tuple(State)
# The one guard a move has: whether the commitment's timeframe has begun at the instant.
GUARDS: Final = frozenset({"timeframe_begun"})


@dataclass(frozen=True, kw_only=True)
class Transition:
    """One row of the table: ``trigger`` from any of ``sources`` to ``dest``.

    ``when``/``unless`` name a guard (one of GUARDS) that must be true/false for the row to
    apply; a row with neither always applies.
    """

    trigger: Trigger
    sources: tuple[State, ...]
    dest: State
    when: str | None = None
    unless: str | None = None

    def __post_init__(self) -> None:
        for guard in (self.when, self.unless):
            if guard is not None and guard not in GUARDS:
                raise ValueError(f"unknown guard {guard!r}")


_LIVE: Final = (PLANERAD, PAGAENDE, UPPFOLJD, REVIDERAD)

# The first row whose source and guard match wins, which is how reinstate returns to
# planerad before the new timeframe.
TABLE: Final[tuple[Transition, ...]] = (
    Transition(trigger=Trigger.START, sources=(PLANERAD,), dest=PAGAENDE),
    Transition(trigger=Trigger.FOLLOW_UP, sources=(PAGAENDE,), dest=UPPFOLJD),
    Transition(trigger=Trigger.NEW_PERIOD, sources=(UPPFOLJD,), dest=PAGAENDE),
    Transition(trigger=Trigger.REVISE, sources=(PAGAENDE, UPPFOLJD), dest=REVIDERAD),
    Transition(trigger=Trigger.REINSTATE, sources=(REVIDERAD,), dest=PLANERAD, unless="timeframe_begun"),
    Transition(trigger=Trigger.REINSTATE, sources=(REVIDERAD,), dest=PAGAENDE, when="timeframe_begun"),
    Transition(trigger=Trigger.END, sources=_LIVE, dest=AVSLUTAD),
    Transition(trigger=Trigger.RESTORE, sources=(AVSLUTAD,), dest=PLANERAD),
)

TRIGGERS: Final = tuple(dict.fromkeys(row.trigger for row in TABLE))

# What a person may type for a state: the Swedish spelling or its ASCII form.
_ASCII = str.maketrans({"å": "a", "ä": "a", "ö": "o"})
_STATE_ALIASES: Final = {s.value: s for s in STATES} | {s.value.translate(_ASCII): s for s in STATES}


def parse_state(text: str) -> State:
    """A state as typed by a person (``pagaende`` or ``pågående``) → the stored value."""
    state = _STATE_ALIASES.get(text.strip().lower())
    if state is None:
        raise UnknownState(text, STATES)
    return state


def parse_trigger(text: str) -> Trigger:
    trigger = text.strip().lower().replace("-", "_")
    if trigger not in TRIGGERS:
        raise UnknownTrigger(text, TRIGGERS)
    return Trigger(trigger)


def _build() -> Machine:
    transitions = []
    for row in TABLE:
        spec: dict[str, object] = {"trigger": row.trigger.value, "source": [s.value for s in row.sources]}
        spec["dest"] = row.dest.value
        if row.when is not None:
            spec["conditions"] = [row.when]
        if row.unless is not None:
            spec["unless"] = [row.unless]
        transitions.append(spec)
    return Machine(
        model=None,
        states=[s.value for s in STATES],
        transitions=transitions,
        initial=None,
        auto_transitions=False,
        # A wrong move must raise, never pass silently (docs/libraries.md).
        ignore_invalid_triggers=False,
    )


_MACHINE: Final = _build()


@dataclass
class _Subject:
    state: str
    timeframe_begun: bool


def next_state(commitment: str, state: str, trigger: str, *, timeframe_begun: bool = True) -> State:
    """The state ``trigger`` leads to from ``state``, or TransitionNotAllowed.

    ``timeframe_begun`` decides where ``reinstate`` goes: pågående when the revised
    timeframe has begun, planerad when it has not.
    """
    if trigger not in TRIGGERS:
        raise UnknownTrigger(trigger, TRIGGERS)
    if state not in STATES:
        raise UnknownState(state, STATES)
    # A plain str: transitions looks an Enum state up by its name (PLANERAD), not its value.
    subject = _Subject(state=str(state), timeframe_begun=timeframe_begun)
    try:
        moved = _MACHINE.events[str(trigger)].trigger(subject)
    except MachineError:
        raise TransitionNotAllowed(commitment, trigger, state) from None
    if not moved:
        raise TransitionNotAllowed(commitment, trigger, state)
    return State(subject.state)


def allowed_triggers(state: str) -> tuple[Trigger, ...]:
    return tuple(dict.fromkeys(row.trigger for row in TABLE if state in row.sources))


@dataclass(frozen=True, kw_only=True)
class Moved:
    """What one move makes of a commitment: the row's new state, open period and dates."""

    commitment: str
    trigger: Trigger
    from_state: State
    state: State
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
        trigger=Trigger(trigger),
        from_state=State(state),
        state=new_state,
        period=period,
        next_due=None if ended else calendar.follow_up_due(period, due_md),
        next_check=None if ended else at,
    )
