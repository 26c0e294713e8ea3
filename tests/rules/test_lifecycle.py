"""``rules.lifecycle.move``: the one place a move's new state, open period and dates are decided."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from rules.calendar import SwedishCalendar
from rules.errors import TransitionNotAllowed
from rules.lifecycle import AVSLUTAD, PAGAENDE, PLANERAD, REVIDERAD, TABLE, UPPFOLJD, State, Transition, Trigger, move

CAL = SwedishCalendar()
NOW = datetime(2027, 12, 10, 9, tzinfo=ZoneInfo("Europe/Stockholm"))


def go(state: str, period: int, trigger: str, **kw: object) -> tuple[str, int, date | None, datetime | None]:
    m = move("boras.mbu.kommun", state, period, trigger, at=NOW, due_md="03-31", calendar=CAL, **kw)  # type: ignore[arg-type]
    return m.state, m.period, m.next_due, m.next_check


def test_a_new_period_opens_the_next_year_and_its_due_date() -> None:
    assert go(UPPFOLJD, 2026, "new_period") == (PAGAENDE, 2027, date(2028, 3, 31), NOW)


def test_a_revision_never_reopens_a_reported_period() -> None:
    # Revised while uppföljd for 2026: adopted, it waits for 2027, not for 2026 again.
    assert go(REVIDERAD, 2026, "reinstate", reported=True) == (PAGAENDE, 2027, date(2028, 3, 31), NOW)
    # Revised while 2026 was still open: it is still asked for 2026.
    assert go(REVIDERAD, 2026, "reinstate", reported=False) == (PAGAENDE, 2026, date(2027, 3, 31), NOW)
    assert go(REVIDERAD, 2026, "reinstate", reported=True, timeframe_begun=False)[:2] == (PLANERAD, 2027)


def test_ending_clears_the_due_date_and_the_next_check() -> None:
    assert go(PAGAENDE, 2026, "end") == (AVSLUTAD, 2026, None, None)


def test_restore_opens_the_period_the_plan_gives_and_nothing_else_may_leave_avslutad() -> None:
    assert go(AVSLUTAD, 2020, "restore", restored_period=2027) == (PLANERAD, 2027, date(2028, 3, 31), NOW)
    with pytest.raises(ValueError, match="restore needs"):
        go(AVSLUTAD, 2020, "restore")
    for trigger in ("start", "follow_up", "new_period", "revise", "reinstate", "end"):
        with pytest.raises(TransitionNotAllowed):
            go(AVSLUTAD, 2020, trigger)


def test_states_and_triggers_are_enums_whose_values_are_what_the_database_stores() -> None:
    assert [s.value for s in State] == ["planerad", "pågående", "uppföljd", "reviderad", "avslutad"]
    assert State.PAGAENDE == "pågående" and Trigger.NEW_PERIOD == "new_period"
    assert f"{State.UPPFOLJD}" == "uppföljd"  # formatted into messages and history as the stored word


def test_a_guard_is_a_keyword_naming_a_known_condition() -> None:
    reinstates = [row for row in TABLE if row.trigger == Trigger.REINSTATE]
    assert [(r.dest, r.when, r.unless) for r in reinstates] == [
        (State.PLANERAD, None, "timeframe_begun"),
        (State.PAGAENDE, "timeframe_begun", None),
    ]
    with pytest.raises(ValueError, match="unknown guard"):
        Transition(trigger=Trigger.START, sources=(State.PLANERAD,), dest=State.PAGAENDE, when="sunny")
