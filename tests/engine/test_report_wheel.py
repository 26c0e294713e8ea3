"""The årshjul: the year's deadlines from the rules, and the geometry that puts them on a circle."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from engine import db
from engine.models import AgreementRow
from engine.report.wheel import place_in_lanes, polar, wheel_events, year_angle
from rules.calendar import SwedishCalendar
from rules.model import Schedule
from tests.report_scenario import follow_up_some


@pytest.fixture
def followed_up(loaded: Engine) -> Engine:
    return follow_up_some(loaded)


def test_the_arshjul_shows_the_revision_in_its_year(followed_up: Engine) -> None:
    with db.transaction(followed_up) as s:
        agreement = s.get(AgreementRow, "boras")
        assert agreement is not None
        schedule = Schedule.from_settings(agreement.timezone, agreement.schedule)
        events = wheel_events(agreement, schedule, 2017, SwedishCalendar())
    # Signed 2015-12-14, revision every third year, kick-off 60 days before (previous working day).
    assert (date(2018, 10, 15), "Revidering: startbesked") in [(d, k) for d, k, _ in events]
    assert (date(2018, 12, 14), "Revidering ska vara klar") in [(d, k) for d, k, _ in events]
    assert all(d.year == 2018 for d, _, _ in events)


# -- the geometry ---------------------------------------------------------------------------


def test_the_year_starts_at_the_top_of_the_wheel() -> None:
    assert year_angle(date(2017, 1, 1)) == 0
    assert polar(280, 280, 100, year_angle(date(2017, 1, 1))) == (280, 180)


def test_midsummer_of_the_year_is_at_the_bottom_of_the_wheel() -> None:
    angle = year_angle(date(2017, 7, 1))
    assert angle == pytest.approx(360 * 181 / 365)
    assert abs(angle - 180) < 2
    x, y = polar(280, 280, 100, angle)
    assert abs(x - 280) < 3 and y == pytest.approx(380, abs=0.1)


def test_the_wheel_turns_clockwise_through_the_year() -> None:
    assert year_angle(date(2017, 4, 1)) == pytest.approx(360 * 90 / 365)  # a quarter: to the right
    assert polar(0, 0, 10, 90) == (10, 0)
    assert polar(0, 0, 10, 270) == (-10, 0)
    assert year_angle(date(2016, 12, 31)) == pytest.approx(360 * 365 / 366)  # a leap year has 366 days
    days = [date(2017, m, 1) for m in range(1, 13)]
    angles = [year_angle(d) for d in days]
    assert angles == sorted(angles) and angles[-1] < 360


def test_close_deadlines_are_put_in_separate_lanes() -> None:
    same_day = year_angle(date(2017, 3, 31))
    lanes = place_in_lanes([year_angle(date(2017, 3, 24)), same_day, same_day, year_angle(date(2017, 9, 1))])
    assert lanes[1] != lanes[2]  # the same day: never the same spot
    assert lanes[3] == lanes[0]  # far apart: back in the outer lane
