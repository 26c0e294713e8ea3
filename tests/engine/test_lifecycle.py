"""The lifecycle table of docs/design.md, every state × trigger pair, and what a refusal leaves."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest
from sqlalchemy import Engine, func, select

from engine import db, service
from engine.models import Commitment, TransitionRecord
from rules import lifecycle
from rules.errors import SamverkanError, TransitionNotAllowed, UnknownState, UnknownTrigger

P, G, U, R, A = lifecycle.STATES

# The specification, written out independently of rules.lifecycle.TABLE.
# (state, trigger) -> destination; timeframe_begun decides reinstate.
ALLOWED = {
    (P, "start"): G,
    (G, "follow_up"): U,
    (U, "new_period"): G,
    (G, "revise"): R,
    (U, "revise"): R,
    (R, "reinstate"): G,
    (P, "end"): A,
    (G, "end"): A,
    (U, "end"): A,
    (R, "end"): A,
    (A, "restore"): P,
}
PAIRS = list(itertools.product(lifecycle.STATES, lifecycle.TRIGGERS))


def test_states_and_triggers_are_exactly_those_of_the_design() -> None:
    assert lifecycle.STATES == ("planerad", "pågående", "uppföljd", "reviderad", "avslutad")
    assert set(lifecycle.TRIGGERS) == {"start", "follow_up", "new_period", "revise", "reinstate", "end", "restore"}


@pytest.mark.parametrize(("state", "trigger"), PAIRS, ids=[f"{s}-{t}" for s, t in PAIRS])
def test_every_state_trigger_pair_moves_or_is_refused(state: str, trigger: str) -> None:
    expected = ALLOWED.get((state, trigger))
    if expected is None:
        with pytest.raises(TransitionNotAllowed) as info:
            lifecycle.next_state("x.y.kommun", state, trigger)
        assert (info.value.commitment, info.value.trigger, info.value.state) == ("x.y.kommun", trigger, state)
        assert isinstance(info.value, SamverkanError)
    else:
        assert lifecycle.next_state("x.y.kommun", state, trigger) == expected


def test_reinstate_returns_to_planerad_when_the_new_timeframe_has_not_begun() -> None:
    assert lifecycle.next_state("c", R, "reinstate", timeframe_begun=False) == P
    assert lifecycle.next_state("c", R, "reinstate", timeframe_begun=True) == G


def test_avslutad_is_left_only_by_a_plan_that_brings_the_commitment_back() -> None:
    assert lifecycle.allowed_triggers(A) == ("restore",)


@pytest.mark.parametrize(("typed", "state"), [("pagaende", G), ("uppfoljd", U), ("Pågående", G), ("planerad", P)])
def test_a_person_may_type_states_in_ascii(typed: str, state: str) -> None:
    assert lifecycle.parse_state(typed) == state


def test_unknown_state_and_trigger_are_project_errors() -> None:
    with pytest.raises(UnknownState):
        lifecycle.parse_state("klar")
    with pytest.raises(UnknownTrigger):
        lifecycle.next_state("c", P, "finish")


def _counts(engine: Engine) -> tuple[int, str]:
    with db.transaction(engine) as s:
        n = s.scalar(select(func.count()).select_from(TransitionRecord)) or 0
        c = s.get(Commitment, "boras.trafik.polis")
        assert c is not None
        return n, c.state


@pytest.mark.parametrize(("state", "trigger"), [(s, t) for s, t in PAIRS if (s, t) not in ALLOWED][:8])
def test_a_refused_move_writes_nothing(loaded: Engine, now: datetime, state: str, trigger: str) -> None:
    with db.transaction(loaded) as s:
        c = s.get(Commitment, "boras.trafik.polis")
        assert c is not None
        c.state = state
    before = _counts(loaded)
    with pytest.raises(TransitionNotAllowed), db.transaction(loaded) as s:
        service.transition(s, "boras.trafik.polis", trigger, by="BråB", why="prov", now=now)
    assert _counts(loaded) == before


def test_a_move_is_recorded_with_who_when_from_to_and_why(loaded: Engine, now: datetime) -> None:
    with db.transaction(loaded) as s:
        service.transition(s, "trafik.polis", "start", by="Anna, BråB", why="tidsplanen har börjat", now=now)
    with db.transaction(loaded) as s:
        c, rows = service.history(s, "boras.trafik.polis")
    assert c.state == G
    assert [(r.trigger, r.from_state, r.to_state, r.by, r.why, r.at) for r in rows] == [
        ("start", P, G, "Anna, BråB", "tidsplanen har börjat", now)
    ]


def test_new_period_opens_the_next_years_follow_up(loaded: Engine, now: datetime) -> None:
    with db.transaction(loaded) as s:
        for trigger in ("start", "follow_up", "new_period"):
            service.transition(s, "mbu.kommun", trigger, by="BråB", why="prov", now=now)
    with db.transaction(loaded) as s:
        c = service.resolve_commitment(s, "mbu.kommun")
        assert (c.state, c.period) == (G, 2017)
        # The 2017 report is due 2018-03-31, a Saturday → Monday 2 April is Easter Monday → 3 April.
        assert c.next_due is not None and c.next_due.isoformat() == "2018-04-03"


def test_ending_clears_the_next_due_date(loaded: Engine, now: datetime) -> None:
    with db.transaction(loaded) as s:
        service.transition(s, "narkotika.polis", "end", by="BråB", why="borttaget", now=now)
    with db.transaction(loaded) as s:
        c = service.resolve_commitment(s, "narkotika.polis")
        assert (c.state, c.next_due) == (A, None)


def test_by_and_why_are_required(loaded: Engine, now: datetime) -> None:
    with pytest.raises(SamverkanError, match=r"^why: "), db.transaction(loaded) as s:
        service.transition(s, "mbu.kommun", "start", by="BråB", why="  ", now=now)
