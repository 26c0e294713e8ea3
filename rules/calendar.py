"""Calendar arithmetic for deadlines, pure and explicit.

Rules (docs/design.md, "Calendar"):

* Periods are calendar years. The follow-up for period Y is due on the configured
  month-day of year Y+1.
* Anniversaries are counted in years and months, never ``timedelta(days=365)``.
  An anniversary of 29 February falls on 28 February in a year that has none
  (``add_years(date(2016, 2, 29), 1) == date(2017, 2, 28)``), and returns to
  29 February in the next leap year (``add_years(date(2016, 2, 29), 4)``).
* A due date that falls on a Saturday, a Sunday, a Swedish public holiday, or on
  midsommarafton, julafton or nyårsafton moves to the next working day, as lag
  (1930:173) om beräkning av lagstadgad tid does for deadlines.
* A reminder that falls on such a day is sent on the previous working day, so a
  reminder is never later than planned.
* Mail goes out at the configured local wall-clock time (default 08:00) in the
  agreement's zone. ``send_at`` builds the aware datetime from the local date and
  time with ``zoneinfo``, so 08:00 stays 08:00 across both daylight-saving changes
  (UTC+1 in winter, UTC+2 in summer). 08:00 never falls in the 02:00–03:00 gap
  or fold; for a configured time that does, ``fold=0`` picks the first instant.
* A **send slot** is the send time on a working day. Every scheduled notice is planned
  at a slot. A notice found after its planned instant (a late tick, downtime) goes in
  the current slot while it is open — the four hours after today's send time on a
  working day, so a tick a few minutes late does not postpone the morning's mail by a
  day — and otherwise at the next slot: never at the tick's own instant, never at night,
  never on a closed day (``catch_up``).
"""

from __future__ import annotations

import calendar as _cal
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays


def add_years(d: date, years: int) -> date:
    """``d`` moved by whole years; 29 February → 28 February in common years."""
    year = d.year + years
    if d.month == 2 and d.day == 29 and not _cal.isleap(year):
        return date(year, 2, 28)
    return d.replace(year=year)


def add_months(d: date, months: int) -> date:
    """``d`` moved by whole months, clamped to the last day of a shorter month."""
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    last = _cal.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(d.day, last))


def month_day(year: int, md: str) -> date:
    """The date of ``MM-DD`` in ``year``; ``02-29`` is 28 February in common years."""
    month, day = (int(x) for x in md.split("-"))
    if month == 2 and day == 29 and not _cal.isleap(year):
        return date(year, 2, 28)
    return date(year, month, day)


@lru_cache(maxsize=256)
def _swedish_closed_days(year: int) -> frozenset[date]:
    public = holidays.country_holidays("SE", years=year, include_sundays=False, language="sv")
    days = set(public)
    # The three eves the law names; the library files them as de facto holidays.
    midsommardagen = next(d for d, name in public.items() if "Midsommardagen" in name)
    days.add(midsommardagen - timedelta(days=1))
    days.add(date(year, 12, 24))
    days.add(date(year, 12, 31))
    return frozenset(days)


@dataclass(frozen=True)
class SwedishCalendar:
    """Working days in Sweden; ``extra_closed`` adds local closing days (tests, orgs)."""

    extra_closed: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, d: date) -> bool:
        return d.weekday() < 5 and d not in _swedish_closed_days(d.year) and d not in self.extra_closed

    def next_working_day(self, d: date) -> date:
        """``d`` itself if it is a working day, else the first working day after it."""
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def previous_working_day(self, d: date) -> date:
        """``d`` itself if it is a working day, else the last working day before it."""
        while not self.is_working_day(d):
            d -= timedelta(days=1)
        return d

    def follow_up_due(self, period: int, due_md: str) -> date:
        """When the report for calendar-year ``period`` is due (moved past closed days)."""
        return self.next_working_day(month_day(period + 1, due_md))

    def reminder_day(self, due: date, offset_days: int) -> date:
        """The day a reminder ``offset_days`` (≤ 0) from ``due`` goes out."""
        return self.previous_working_day(due + timedelta(days=offset_days))


def send_at(d: date, at: time, zone: ZoneInfo) -> datetime:
    """The aware instant of local wall-clock ``at`` on ``d`` in ``zone``."""
    return datetime.combine(d, at, tzinfo=zone).replace(fold=0)


# How long after the send time a working day's slot still takes mail that was found late.
SLOT_OPEN = timedelta(hours=4)


def slot(now: datetime, at: time, zone: ZoneInfo, cal: SwedishCalendar) -> datetime:
    """The send slot a notice found at ``now`` goes in: today's while it is open, else the next one."""
    day = now.astimezone(zone).date()
    if cal.is_working_day(day):
        today = send_at(day, at, zone)
        if now < today + SLOT_OPEN:
            return today
    return send_at(cal.next_working_day(day + timedelta(days=1)), at, zone)


def catch_up(planned: datetime, now: datetime, at: time, zone: ZoneInfo, cal: SwedishCalendar) -> datetime:
    """When a notice planned for ``planned`` goes, found at ``now``: as planned, or in the slot ``now`` is in."""
    return planned if planned >= now else max(planned, slot(now, at, zone, cal))
