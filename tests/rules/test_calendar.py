"""The calendar, date by date: Swedish working days, moved deadlines, anniversaries, send times.

Every expected date below was worked out by hand from the rules (lag (1930:173) om beräkning av
lagstadgad tid; lag (1989:253) om allmänna helgdagar) and from known calendars, not read back
from the implementation. Each table row also states the weekday, and the tests check that
weekday with the standard library, so a mistyped date shows up as a failing row.
Easter is computed here with the anonymous Gregorian (Meeus/Jones/Butcher) algorithm, itself
checked against known Easter Sundays.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules import revision
from rules.calendar import SwedishCalendar, add_months, add_years, catch_up, month_day, send_at, slot

CAL = SwedishCalendar()
STOCKHOLM = ZoneInfo("Europe/Stockholm")
EIGHT = time(8, 0)

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def weekday(d: date) -> str:
    return WEEKDAYS[d.weekday()]


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous algorithm), independent of the holidays library."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def midsommarafton(year: int) -> date:
    """The Friday between 19 and 25 June."""
    return next(date(year, 6, day) for day in range(19, 26) if date(year, 6, day).weekday() == 4)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- the helpers of this file, checked against known calendars -------------------------------


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2008, date(2008, 3, 23)),
        (2011, date(2011, 4, 24)),
        (2018, date(2018, 4, 1)),
        (2019, date(2019, 4, 21)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),
    ],
    ids=str,
)
def test_easter_helper_agrees_with_known_easter_sundays(year: int, expected: date) -> None:
    assert easter_sunday(year) == expected
    assert weekday(expected) == "Sun"


# --- Swedish public holidays are not working days --------------------------------------------

PUBLIC_HOLIDAYS = [
    # 2025
    ("nyarsdagen-2025", date(2025, 1, 1), "Wed"),
    ("trettondedag-jul-2025", date(2025, 1, 6), "Mon"),
    ("langfredagen-2025", date(2025, 4, 18), "Fri"),
    ("paskdagen-2025", date(2025, 4, 20), "Sun"),
    ("annandag-pask-2025", date(2025, 4, 21), "Mon"),
    ("forsta-maj-2025", date(2025, 5, 1), "Thu"),
    ("kristi-himmelsfardsdag-2025", date(2025, 5, 29), "Thu"),
    ("pingstdagen-2025", date(2025, 6, 8), "Sun"),
    ("nationaldagen-2025", date(2025, 6, 6), "Fri"),
    ("midsommardagen-2025", date(2025, 6, 21), "Sat"),
    ("alla-helgons-dag-2025", date(2025, 11, 1), "Sat"),
    ("juldagen-2025", date(2025, 12, 25), "Thu"),
    ("annandag-jul-2025", date(2025, 12, 26), "Fri"),
    # 2026
    ("nyarsdagen-2026", date(2026, 1, 1), "Thu"),
    ("trettondedag-jul-2026", date(2026, 1, 6), "Tue"),
    ("langfredagen-2026", date(2026, 4, 3), "Fri"),
    ("paskdagen-2026", date(2026, 4, 5), "Sun"),
    ("annandag-pask-2026", date(2026, 4, 6), "Mon"),
    ("forsta-maj-2026", date(2026, 5, 1), "Fri"),
    ("kristi-himmelsfardsdag-2026", date(2026, 5, 14), "Thu"),
    ("pingstdagen-2026", date(2026, 5, 24), "Sun"),
    ("nationaldagen-2026", date(2026, 6, 6), "Sat"),
    ("midsommardagen-2026", date(2026, 6, 20), "Sat"),
    ("alla-helgons-dag-2026", date(2026, 10, 31), "Sat"),
    ("juldagen-2026", date(2026, 12, 25), "Fri"),
    ("annandag-jul-2026", date(2026, 12, 26), "Sat"),
]


@pytest.mark.parametrize(
    ("day", "dow"),
    [(d, w) for _, d, w in PUBLIC_HOLIDAYS],
    ids=[name for name, _, _ in PUBLIC_HOLIDAYS],
)
def test_each_swedish_public_holiday_is_not_a_working_day(day: date, dow: str) -> None:
    assert weekday(day) == dow
    assert not CAL.is_working_day(day)


@pytest.mark.parametrize("year", range(2005, 2041), ids=str)
def test_movable_feasts_follow_easter_every_year(year: int) -> None:
    easter = easter_sunday(year)
    assert not CAL.is_working_day(easter - timedelta(days=2)), "långfredagen"
    assert not CAL.is_working_day(easter + timedelta(days=1)), "annandag påsk"
    assert not CAL.is_working_day(easter + timedelta(days=39)), "Kristi himmelsfärdsdag"
    assert CAL.is_working_day(easter - timedelta(days=3)), "skärtorsdagen is an ordinary day"
    # Since 2005 annandag pingst is an ordinary Monday (nationaldagen replaced it), unless it is 6 June.
    annandag_pingst = easter + timedelta(days=50)
    assert CAL.is_working_day(annandag_pingst) == (annandag_pingst != date(year, 6, 6))


def test_annandag_pingst_was_a_holiday_until_2004() -> None:
    assert easter_sunday(2004) == date(2004, 4, 11)
    assert weekday(date(2004, 5, 31)) == "Mon"
    assert not CAL.is_working_day(date(2004, 5, 31))
    assert CAL.is_working_day(date(2005, 5, 16))  # annandag pingst 2005 (Easter 27 March)
    assert easter_sunday(2005) + timedelta(days=50) == date(2005, 5, 16)


# --- the three eves the law names, and the eves and bridge days it does not ------------------

CLOSED_EVES = [
    ("midsommarafton-2025", date(2025, 6, 20), "Fri"),
    ("midsommarafton-2026", date(2026, 6, 19), "Fri"),
    ("julafton-2025", date(2025, 12, 24), "Wed"),
    ("julafton-2026", date(2026, 12, 24), "Thu"),
    ("nyarsafton-2025", date(2025, 12, 31), "Wed"),
    ("nyarsafton-2026", date(2026, 12, 31), "Thu"),
    ("paskafton-2025-saturday-anyway", date(2025, 4, 19), "Sat"),
    ("paskafton-2026-saturday-anyway", date(2026, 4, 4), "Sat"),
]


@pytest.mark.parametrize(
    ("day", "dow"),
    [(d, w) for _, d, w in CLOSED_EVES],
    ids=[name for name, _, _ in CLOSED_EVES],
)
def test_midsommarafton_julafton_and_nyarsafton_are_not_working_days_even_on_weekdays(day: date, dow: str) -> None:
    assert weekday(day) == dow
    assert not CAL.is_working_day(day)


OPEN_DAYS = [
    ("valborgsmassoafton-2025", date(2025, 4, 30), "Wed"),
    ("klamdag-after-himmelsfard-2025", date(2025, 5, 30), "Fri"),
    ("skartorsdagen-2025", date(2025, 4, 17), "Thu"),
    ("annandag-pingst-2025", date(2025, 6, 9), "Mon"),
    ("trettondagsafton-2026", date(2026, 1, 5), "Mon"),
    ("allhelgonaafton-2025", date(2025, 10, 31), "Fri"),
    ("lillejulafton-2025", date(2025, 12, 23), "Tue"),
    ("mellandagar-2025", date(2025, 12, 29), "Mon"),
    ("dagen-fore-nyarsafton-2025", date(2025, 12, 30), "Tue"),
    ("dagen-fore-midsommarafton-2025", date(2025, 6, 19), "Thu"),
    ("klamdag-after-himmelsfard-2026", date(2026, 5, 15), "Fri"),
    ("ordinary-tuesday", date(2026, 3, 10), "Tue"),
]


@pytest.mark.parametrize(
    ("day", "dow"),
    [(d, w) for _, d, w in OPEN_DAYS],
    ids=[name for name, _, _ in OPEN_DAYS],
)
def test_other_eves_and_bridge_days_are_working_days(day: date, dow: str) -> None:
    """The law names only midsommarafton, julafton and nyårsafton; klämdagar are working days."""
    assert weekday(day) == dow
    assert CAL.is_working_day(day)


@pytest.mark.parametrize("year", range(2000, 2041), ids=str)
def test_midsommarafton_is_the_friday_between_19_and_25_june_every_year(year: int) -> None:
    eve = midsommarafton(year)
    assert not CAL.is_working_day(eve)
    assert not CAL.is_working_day(eve + timedelta(days=1)), "midsommardagen"
    assert CAL.is_working_day(eve - timedelta(days=1)), "the Thursday before is an ordinary day"


@pytest.mark.parametrize("year", range(2000, 2041), ids=str)
def test_julafton_and_nyarsafton_are_closed_every_year(year: int) -> None:
    assert not CAL.is_working_day(date(year, 12, 24))
    assert not CAL.is_working_day(date(year, 12, 31))
    assert CAL.is_working_day(date(year, 12, 30)) == (date(year, 12, 30).weekday() < 5)


@pytest.mark.parametrize(
    ("day", "dow"),
    [(date(2025, 3, 15), "Sat"), (date(2025, 3, 16), "Sun"), (date(2026, 8, 8), "Sat"), (date(2026, 8, 9), "Sun")],
    ids=["sat-2025-03-15", "sun-2025-03-16", "sat-2026-08-08", "sun-2026-08-09"],
)
def test_saturdays_and_sundays_are_not_working_days(day: date, dow: str) -> None:
    assert weekday(day) == dow
    assert not CAL.is_working_day(day)


def test_extra_closed_days_add_local_closing_days() -> None:
    closed = date(2025, 3, 12)  # an ordinary Wednesday
    cal = SwedishCalendar(extra_closed=frozenset({closed}))
    assert CAL.is_working_day(closed)
    assert not cal.is_working_day(closed)
    assert cal.next_working_day(closed) == date(2025, 3, 13)
    assert cal.previous_working_day(closed) == date(2025, 3, 11)


# --- follow_up_due: a due date on a closed day moves to the NEXT working day -----------------

FOLLOW_UP_DUE = [
    # (id, period, due MM-DD, nominal date and weekday, expected due date and weekday)
    ("working-day-stays", 2024, "03-31", "Mon", date(2025, 3, 31), "Mon"),
    ("sunday-to-monday", 2024, "03-30", "Sun", date(2025, 3, 31), "Mon"),
    ("saturday-to-monday", 2025, "03-14", "Sat", date(2026, 3, 16), "Mon"),
    ("paskafton-saturday-over-annandag-pask-to-tuesday", 2017, "03-31", "Sat", date(2018, 4, 3), "Tue"),
    ("saturday-before-monday-trettondedag-jul", 2024, "01-04", "Sat", date(2025, 1, 7), "Tue"),
    ("saturday-before-monday-nationaldagen", 2021, "06-04", "Sat", date(2022, 6, 7), "Tue"),
    ("saturday-trettondagsafton-monday-is-working", 2025, "01-03", "Sat", date(2026, 1, 5), "Mon"),
    ("langfredagen-to-tuesday-after-annandag-pask", 2024, "04-18", "Fri", date(2025, 4, 22), "Tue"),
    ("forsta-maj-friday-to-monday", 2025, "05-01", "Fri", date(2026, 5, 4), "Mon"),
    ("himmelsfard-to-klamdag-friday", 2024, "05-29", "Thu", date(2025, 5, 30), "Fri"),
    ("nationaldagen-friday-to-annandag-pingst-monday", 2024, "06-06", "Fri", date(2025, 6, 9), "Mon"),
    ("nationaldagen-saturday-to-monday", 2025, "06-06", "Sat", date(2026, 6, 8), "Mon"),
    ("midsommarafton-to-monday-after", 2024, "06-20", "Fri", date(2025, 6, 23), "Mon"),
    ("midsommarafton-2026-to-monday-after", 2025, "06-19", "Fri", date(2026, 6, 22), "Mon"),
    ("julafton-wednesday-to-monday-29th", 2024, "12-24", "Wed", date(2025, 12, 29), "Mon"),
    ("julafton-thursday-to-monday-28th", 2025, "12-24", "Thu", date(2026, 12, 28), "Mon"),
    ("nyarsafton-wednesday-to-2-january", 2024, "12-31", "Wed", date(2026, 1, 2), "Fri"),
    ("nyarsafton-thursday-over-weekend-to-4-january", 2025, "12-31", "Thu", date(2027, 1, 4), "Mon"),
    ("29-february-in-common-year-saturday-28th-to-monday", 2025, "02-29", "Sat", date(2026, 3, 2), "Mon"),
    ("29-february-in-leap-year-stays", 2023, "02-29", "Thu", date(2024, 2, 29), "Thu"),
]


@pytest.mark.parametrize(
    ("period", "due_md", "nominal_dow", "expected", "expected_dow"),
    [row[1:] for row in FOLLOW_UP_DUE],
    ids=[row[0] for row in FOLLOW_UP_DUE],
)
def test_follow_up_due_moves_to_the_next_working_day(
    period: int, due_md: str, nominal_dow: str, expected: date, expected_dow: str
) -> None:
    assert weekday(month_day(period + 1, due_md)) == nominal_dow
    assert weekday(expected) == expected_dow
    assert CAL.follow_up_due(period, due_md) == expected


def test_follow_up_for_period_y_is_due_in_year_y_plus_1() -> None:
    assert CAL.follow_up_due(2025, "03-31") == date(2026, 3, 31)  # a Tuesday


# --- reminder_day: a reminder on a closed day goes on the PREVIOUS working day ---------------

REMINDERS = [
    # (id, due date, offset, nominal reminder date and weekday, expected and weekday)
    ("working-day-stays", date(2025, 3, 31), -7, date(2025, 3, 24), "Mon", date(2025, 3, 24), "Mon"),
    ("on-the-due-date", date(2025, 3, 31), 0, date(2025, 3, 31), "Mon", date(2025, 3, 31), "Mon"),
    ("sunday-to-friday", date(2025, 3, 31), -1, date(2025, 3, 30), "Sun", date(2025, 3, 28), "Fri"),
    ("saturday-to-friday", date(2025, 3, 31), -2, date(2025, 3, 29), "Sat", date(2025, 3, 28), "Fri"),
    (
        "annandag-pask-to-skartorsdagen",
        date(2025, 4, 28),
        -7,
        date(2025, 4, 21),
        "Mon",
        date(2025, 4, 17),
        "Thu",
    ),
    (
        "30-days-before-lands-on-annandag-pask",
        date(2025, 5, 21),
        -30,
        date(2025, 4, 21),
        "Mon",
        date(2025, 4, 17),
        "Thu",
    ),
    (
        "trettondedag-jul-monday-to-friday-2-january",
        date(2025, 1, 13),
        -7,
        date(2025, 1, 6),
        "Mon",
        date(2025, 1, 3),
        "Fri",
    ),
    ("nyarsdagen-back-over-nyarsafton", date(2026, 1, 8), -7, date(2026, 1, 1), "Thu", date(2025, 12, 30), "Tue"),
    (
        "2-january-saturday-back-into-previous-year",
        date(2027, 1, 9),
        -7,
        date(2027, 1, 2),
        "Sat",
        date(2026, 12, 30),
        "Wed",
    ),
    ("annandag-jul-back-over-julafton", date(2026, 1, 2), -7, date(2025, 12, 26), "Fri", date(2025, 12, 23), "Tue"),
    (
        "midsommardagen-back-over-midsommarafton",
        date(2025, 6, 28),
        -7,
        date(2025, 6, 21),
        "Sat",
        date(2025, 6, 19),
        "Thu",
    ),
    ("klamdag-is-working", date(2025, 6, 6), -7, date(2025, 5, 30), "Fri", date(2025, 5, 30), "Fri"),
    ("valborg-is-working", date(2025, 5, 7), -7, date(2025, 4, 30), "Wed", date(2025, 4, 30), "Wed"),
]


@pytest.mark.parametrize(
    ("due", "offset", "nominal", "nominal_dow", "expected", "expected_dow"),
    [row[1:] for row in REMINDERS],
    ids=[row[0] for row in REMINDERS],
)
def test_reminder_on_a_closed_day_goes_on_the_previous_working_day(
    due: date, offset: int, nominal: date, nominal_dow: str, expected: date, expected_dow: str
) -> None:
    assert due + timedelta(days=offset) == nominal
    assert weekday(nominal) == nominal_dow
    assert weekday(expected) == expected_dow
    assert CAL.reminder_day(due, offset) == expected


def test_over_four_years_a_reminder_is_never_late_and_a_deadline_never_early() -> None:
    day = date(2024, 1, 1)
    while day < date(2028, 1, 1):
        forward, backward = CAL.next_working_day(day), CAL.previous_working_day(day)
        assert CAL.is_working_day(forward) and CAL.is_working_day(backward)
        assert backward <= day <= forward
        assert (forward == day) == (backward == day) == CAL.is_working_day(day)
        # nothing in between is a working day
        assert all(not CAL.is_working_day(backward + timedelta(days=n)) for n in range(1, (day - backward).days + 1))
        assert all(not CAL.is_working_day(day + timedelta(days=n)) for n in range((forward - day).days))
        day += timedelta(days=1)


# --- anniversaries in years and months; 29 February -----------------------------------------


@pytest.mark.parametrize(
    ("start", "years", "expected"),
    [
        (date(2016, 2, 29), 1, date(2017, 2, 28)),
        (date(2016, 2, 29), 3, date(2019, 2, 28)),
        (date(2016, 2, 29), 4, date(2020, 2, 29)),
        (date(2016, 2, 29), 8, date(2024, 2, 29)),
        (date(2020, 2, 29), -1, date(2019, 2, 28)),
        (date(2015, 12, 14), 3, date(2018, 12, 14)),
        (date(2015, 3, 1), 1, date(2016, 3, 1)),
        (date(2016, 2, 28), 1, date(2017, 2, 28)),
    ],
    ids=[
        "29feb-plus-1-to-28feb",
        "29feb-plus-3-to-28feb",
        "29feb-plus-4-back-to-29feb",
        "29feb-plus-8-back-to-29feb",
        "29feb-minus-1-to-28feb",
        "ordinary-date",
        "1-march-stays-1-march-in-leap-year",
        "28feb-stays-28feb",
    ],
)
def test_add_years_counts_calendar_years(start: date, years: int, expected: date) -> None:
    assert add_years(start, years) == expected


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 3, 31), -1, date(2025, 2, 28)),
        (date(2025, 8, 31), 1, date(2025, 9, 30)),
        (date(2025, 12, 15), 1, date(2026, 1, 15)),
        (date(2025, 1, 15), -1, date(2024, 12, 15)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2025, 1, 31), 13, date(2026, 2, 28)),
        (date(2025, 5, 31), -27, date(2023, 2, 28)),
    ],
    ids=[
        "31jan-plus-1-common-year-28feb",
        "31jan-plus-1-leap-year-29feb",
        "31mar-minus-1-28feb",
        "31aug-plus-1-30sep",
        "december-plus-1-next-year",
        "january-minus-1-previous-year",
        "29feb-plus-12-28feb",
        "31jan-plus-13",
        "31may-minus-27",
    ],
)
def test_add_months_clamps_to_the_end_of_a_shorter_month(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("year", "md", "expected"),
    [
        (2021, "02-29", date(2021, 2, 28)),
        (2024, "02-29", date(2024, 2, 29)),
        (2100, "02-29", date(2100, 2, 28)),
        (2000, "02-29", date(2000, 2, 29)),
        (2025, "12-24", date(2025, 12, 24)),
        (2026, "03-31", date(2026, 3, 31)),
    ],
    ids=[
        "29feb-common-year",
        "29feb-leap-year",
        "29feb-2100-not-leap",
        "29feb-2000-leap",
        "julafton",
        "31-march",
    ],
)
def test_month_day(year: int, md: str, expected: date) -> None:
    assert month_day(year, md) == expected


REVISIONS = [
    # (id, signed, every_years, n, expected, weekday)
    ("29feb-plus-3-thursday-28feb", date(2016, 2, 29), 3, 1, date(2019, 2, 28), "Thu"),
    ("29feb-plus-12-leap-year", date(2016, 2, 29), 3, 4, date(2028, 2, 29), "Tue"),
    ("29feb-to-saturday-28feb-to-monday-2-march", date(2020, 2, 29), 3, 2, date(2026, 3, 2), "Mon"),
    ("29feb-to-sunday-28feb-to-monday-1-march", date(2016, 2, 29), 5, 1, date(2021, 3, 1), "Mon"),
    ("boras-n1", date(2015, 12, 14), 3, 1, date(2018, 12, 14), "Fri"),
    ("boras-n2", date(2015, 12, 14), 3, 2, date(2021, 12, 14), "Tue"),
    ("boras-n3-saturday-to-monday", date(2015, 12, 14), 3, 3, date(2024, 12, 16), "Mon"),
    ("boras-n4", date(2015, 12, 14), 3, 4, date(2027, 12, 14), "Tue"),
]


@pytest.mark.parametrize(
    ("signed", "every_years", "n", "expected", "dow"),
    [row[1:] for row in REVISIONS],
    ids=[row[0] for row in REVISIONS],
)
def test_revision_due_counts_years_from_signing_and_moves_past_closed_days(
    signed: date, every_years: int, n: int, expected: date, dow: str
) -> None:
    assert weekday(expected) == dow
    assert revision.deadline(signed, every_years, n, None, CAL) == expected


def test_boras_2024_anniversary_itself_is_a_saturday() -> None:
    assert weekday(date(2024, 12, 14)) == "Sat"
    assert add_years(date(2015, 12, 14), 9) == date(2024, 12, 14)


# --- send_at: the configured local time in Europe/Stockholm across daylight saving ------------

SEND_TIMES = [
    # (id, local date, local time, expected UTC instant, expected UTC offset in hours)
    ("winter-0800-is-0700-utc", date(2026, 1, 15), EIGHT, utc(2026, 1, 15, 7, 0), 1),
    ("summer-0800-is-0600-utc", date(2026, 7, 15), EIGHT, utc(2026, 7, 15, 6, 0), 2),
    ("day-before-spring-forward", date(2026, 3, 28), EIGHT, utc(2026, 3, 28, 7, 0), 1),
    ("spring-forward-day", date(2026, 3, 29), EIGHT, utc(2026, 3, 29, 6, 0), 2),
    ("day-before-fall-back", date(2026, 10, 24), EIGHT, utc(2026, 10, 24, 6, 0), 2),
    ("fall-back-day", date(2026, 10, 25), EIGHT, utc(2026, 10, 25, 7, 0), 1),
    ("spring-forward-2025", date(2025, 3, 30), EIGHT, utc(2025, 3, 30, 6, 0), 2),
    ("fall-back-2025", date(2025, 10, 26), EIGHT, utc(2025, 10, 26, 7, 0), 1),
    ("other-configured-time", date(2026, 6, 1), time(9, 30), utc(2026, 6, 1, 7, 30), 2),
]


@pytest.mark.parametrize(
    ("day", "at", "expected_utc", "offset_hours"),
    [row[1:] for row in SEND_TIMES],
    ids=[row[0] for row in SEND_TIMES],
)
def test_send_at_keeps_local_wall_clock_time_across_daylight_saving(
    day: date, at: time, expected_utc: datetime, offset_hours: int
) -> None:
    sent = send_at(day, at, STOCKHOLM)
    assert sent.astimezone(UTC) == expected_utc
    assert sent.utcoffset() == timedelta(hours=offset_hours)
    assert sent.tzinfo is STOCKHOLM
    assert (sent.date(), sent.time()) == (day, at)


def test_transition_sundays_are_the_last_sundays_of_march_and_october_2026() -> None:
    assert weekday(date(2026, 3, 29)) == "Sun"
    assert (date(2026, 3, 29) + timedelta(days=7)).month == 4
    assert weekday(date(2026, 10, 25)) == "Sun"
    assert (date(2026, 10, 25) + timedelta(days=7)).month == 11


def test_0800_on_consecutive_days_is_23_hours_apart_over_spring_forward() -> None:
    saturday = send_at(date(2026, 3, 28), EIGHT, STOCKHOLM)
    sunday = send_at(date(2026, 3, 29), EIGHT, STOCKHOLM)
    assert sunday.astimezone(UTC) - saturday.astimezone(UTC) == timedelta(hours=23)


def test_0800_on_consecutive_days_is_25_hours_apart_over_fall_back() -> None:
    saturday = send_at(date(2026, 10, 24), EIGHT, STOCKHOLM)
    sunday = send_at(date(2026, 10, 25), EIGHT, STOCKHOLM)
    assert sunday.astimezone(UTC) - saturday.astimezone(UTC) == timedelta(hours=25)


def test_a_time_in_the_spring_forward_gap_does_not_crash_and_uses_the_winter_offset() -> None:
    """02:30 does not exist on 2026-03-29 (02:00 CET jumps to 03:00 CEST).

    With fold=0 zoneinfo applies the offset in force before the gap (UTC+1), so 02:30 becomes
    01:30 UTC, which is 03:30 CEST on the wall clock: half an hour after the jump.
    Compare such instants through ``astimezone(UTC)``: by PEP 495, ``==`` between aware datetimes
    of different zones is always False when one of them lies in a gap or a fold.
    """
    sent = send_at(date(2026, 3, 29), time(2, 30), STOCKHOLM)
    assert sent.fold == 0
    assert sent.utcoffset() == timedelta(hours=1)
    assert sent.astimezone(UTC) == utc(2026, 3, 29, 1, 30)
    assert sent.astimezone(UTC).astimezone(STOCKHOLM).time() == time(3, 30)


def test_a_time_in_the_fall_back_fold_picks_the_first_instant() -> None:
    """02:30 happens twice on 2026-10-25: first in summer time (00:30 UTC), then in winter time.

    A fold=1 in the configured time is ignored: the mail goes at the first 02:30.
    """
    first = send_at(date(2026, 10, 25), time(2, 30), STOCKHOLM)
    assert first.utcoffset() == timedelta(hours=2)
    assert first.astimezone(UTC) == utc(2026, 10, 25, 0, 30)
    assert send_at(date(2026, 10, 25), time(2, 30, fold=1), STOCKHOLM).astimezone(UTC) == utc(2026, 10, 25, 0, 30)


# --- send slots: a notice found late goes in the morning's slot or the next, never at night ------


def local(y: int, m: int, d: int, hh: int = 8, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=STOCKHOLM)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Before the send time on a working day: that day's slot.
        (local(2027, 3, 1, 0, 5), local(2027, 3, 1)),
        # In the four hours after it the slot is still open: the morning's mail goes at once.
        (local(2027, 3, 1, 8, 0), local(2027, 3, 1)),
        (local(2027, 3, 1, 11, 59), local(2027, 3, 1)),
        # After that, and at night, the next working day's.
        (local(2027, 3, 1, 12, 0), local(2027, 3, 2)),
        (local(2027, 3, 1, 23, 30), local(2027, 3, 2)),
        # New Year's Day (a holiday) at 00:05: the first working day, not the tick's own instant.
        (local(2027, 1, 1, 0, 5), local(2027, 1, 4)),
        # Midsommarafton 2027 (Friday 25 June) and the weekend: Monday 28 June.
        (local(2027, 6, 25, 9, 0), local(2027, 6, 28)),
        # Over the spring-forward night the slot is still 08:00 local.
        (local(2026, 3, 28, 20, 0), local(2026, 3, 30)),
    ],
)
def test_the_send_slot_of_a_notice_found_late_is_on_a_working_day_at_the_send_time(
    now: datetime, expected: datetime
) -> None:
    got = slot(now, EIGHT, STOCKHOLM, CAL)
    assert got == expected
    assert CAL.is_working_day(got.date()) and (got.hour, got.minute) == (8, 0)


def test_catch_up_keeps_a_planned_instant_still_to_come_and_never_goes_before_it() -> None:
    planned = local(2027, 3, 1)
    assert catch_up(planned, local(2027, 2, 26, 15), EIGHT, STOCKHOLM, CAL) == planned
    assert catch_up(planned, local(2027, 3, 1, 9), EIGHT, STOCKHOLM, CAL) == planned
    assert catch_up(planned, local(2027, 3, 5, 14), EIGHT, STOCKHOLM, CAL) == local(2027, 3, 8)
