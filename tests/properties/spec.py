"""The decided semantics of issue 11 (docs/rules.md), written out once as the suite's oracle.

Only calendar arithmetic from ``rules.calendar`` (add_years, month_day, the working days) is
taken from the engine: it is the documented contract, tested on its own in tests/rules. Every
decision that issue 11 is about (when reporting opens, when revision n is due under a term,
where a catch-up notice goes) is computed here from the spec's text, never by calling the
engine's rules, so that a wrong rule cannot agree with itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from rules.calendar import SwedishCalendar, add_years, month_day

CAL = SwedishCalendar()
ZONE = ZoneInfo("Europe/Stockholm")
MIDNIGHT = time(0, 0)

# Kinds that a person's action sends at once (not planned at the send time), and the dispatcher's own.
AT_ONCE_KINDS = frozenset({"change_notice", "termination_notice", "delivery_failed"})
# Queued when a person reports, sent only with the next mail to its address, at that mail's
# send slot (a calendar cancellation after a follow-up is recorded).
RIDES_ALONG_KINDS = frozenset({"calendar_cancel"})
FOLLOW_UP_KINDS = frozenset({"reminder", "overdue", "escalation"})
REVISION_KINDS = frozenset({"revision_kickoff", "revision_overdue"})


def local(d: date, at: time) -> datetime:
    """The aware instant of local wall-clock ``at`` on ``d`` (as rules.calendar.send_at)."""
    return datetime.combine(d, at, tzinfo=ZONE).replace(fold=0)


def midnight(d: date) -> datetime:
    return local(d, MIDNIGHT)


def day_of(t: datetime) -> date:
    return t.astimezone(ZONE).date()


def is_send_slot(t: datetime, send_time: time) -> bool:
    """A working day at exactly the agreement's send time (local wall clock)."""
    lt = t.astimezone(ZONE)
    return CAL.is_working_day(lt.date()) and lt.time() == send_time


def next_send_slot(t: datetime, send_time: time) -> datetime:
    """The first send slot (send time on a working day) at or after ``t``."""
    d = day_of(t)
    while True:
        d = CAL.next_working_day(d)
        slot = local(d, send_time)
        if slot >= t:
            return slot
        d += timedelta(days=1)


@dataclass(frozen=True, kw_only=True)
class FollowUpRule:
    """``schedule.follow_up`` and the send time: everything the follow-up dates depend on."""

    due_md: str
    offsets: tuple[int, ...]
    overdue_repeat_days: int
    escalation_after_days: int
    send_time: time

    def due(self, period: int) -> date:
        """D(P): the report for P is due on the month-day in P+1, moved to the next working day."""
        return _due(self.due_md, period)

    def reminder_day(self, period: int, offset: int) -> date:
        """A reminder falling on a closed day goes on the previous working day."""
        return CAL.previous_working_day(self.due(period) + timedelta(days=offset))

    def reminder_at(self, period: int, offset: int) -> datetime:
        return local(self.reminder_day(period, offset), self.send_time)

    def opens(self, period: int) -> datetime:
        """Reporting for P opens at local midnight of min(1 January P+1, the earliest reminder day of P)."""
        earliest = min(self.reminder_day(period, o) for o in self.offsets)
        return midnight(min(date(period + 1, 1, 1), earliest))

    def due_end(self, period: int) -> datetime:
        """The end of the due day: a follow-up recorded before this instant is on time."""
        return midnight(self.due(period) + timedelta(days=1))


@lru_cache(maxsize=8192)
def _due(due_md: str, period: int) -> date:
    return CAL.next_working_day(month_day(period + 1, due_md))


@dataclass(frozen=True, kw_only=True)
class RevisionRule:
    signed: date
    every_years: int
    kickoff_days_before: int
    late_repeat_days: int
    send_time: time

    def nominal(self, n: int) -> date:
        """Revision n's nominal date: always counted from the signing date."""
        return add_years(self.signed, n * self.every_years)

    def deadline(self, n: int, valid_to: date | None) -> date | None:
        """Revision n's deadline under the term ``valid_to`` (None: revision n does not exist)."""
        nominal = self.nominal(n)
        if valid_to is None:
            return CAL.next_working_day(nominal)
        if n > 1 and self.nominal(n - 1) >= valid_to:
            return None  # the previous revision already reached the end of the term
        capped = min(nominal, valid_to)
        moved = CAL.next_working_day(capped)
        # A deadline that the working-day move would push past the term is the previous working day.
        return moved if moved <= valid_to else CAL.previous_working_day(capped)

    def deadlines(self, valid_to: date | None, until: date) -> list[tuple[int, date]]:
        """Every (n, deadline) up to ``until`` (a term ends the list by itself)."""
        out: list[tuple[int, date]] = []
        n = 1
        while True:
            d = self.deadline(n, valid_to)
            if d is None or self.nominal(n) > until + timedelta(days=3 * 366):
                return out
            out.append((n, d))
            if d > until:
                return out
            n += 1

    def kickoff_at(self, deadline: date) -> datetime:
        """``kickoff_days_before`` the deadline, on the previous working day if that day is closed."""
        return local(CAL.previous_working_day(deadline - timedelta(days=self.kickoff_days_before)), self.send_time)

    def next_after(self, n: int, today: date, valid_to: date | None) -> int | None:
        """Completing revision n on ``today``: the smallest m > n whose deadline is after today, or none."""
        m = n + 1
        while True:
            d = self.deadline(m, valid_to)
            if d is None:
                return None
            if d > today:
                return m
            m += 1


def last_period(timeframe_end: date | None, valid_to: date | None) -> int | None:
    """The year of ``valid_to``, or of the timeframe's end if earlier; None when open-ended."""
    ends = [d.year for d in (timeframe_end, valid_to) if d is not None]
    return min(ends) if ends else None


def term_end(valid_to: date | None) -> datetime | None:
    """The instant the term is over: local midnight after its last day."""
    return None if valid_to is None else midnight(valid_to + timedelta(days=1))
