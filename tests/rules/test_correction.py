"""The unit's correction window: whole local days after the first recording, in the agreement's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from rules import correction

STHLM = ZoneInfo("Europe/Stockholm")


def test_the_window_is_counted_in_the_agreements_local_dates_not_in_utc() -> None:
    late_evening = datetime(2027, 3, 1, 23, 30, tzinfo=UTC)  # 2 March 00:30 in Stockholm
    assert correction.last_day(late_evening, 14, STHLM) == date(2027, 3, 16)
    assert correction.is_open(late_evening, 14, STHLM, datetime(2027, 3, 16, 22, 59, tzinfo=UTC))
    assert not correction.is_open(late_evening, 14, STHLM, datetime(2027, 3, 16, 23, 0, tzinfo=UTC))


def test_zero_days_is_the_day_of_recording_only_and_a_dst_change_costs_no_day() -> None:
    recorded = datetime(2027, 3, 20, 9, tzinfo=STHLM)  # clocks go forward on 28 March
    assert correction.last_day(recorded, 0, STHLM) == date(2027, 3, 20)
    assert correction.last_day(recorded, 14, STHLM) == date(2027, 4, 3)
    assert correction.is_open(recorded, 14, STHLM, datetime(2027, 4, 3, 23, 59, tzinfo=STHLM))
