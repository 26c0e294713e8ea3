"""The yearly follow-up: reminders before the due date, overdue notices after it, an escalation.

For a commitment that is ``pågående`` with open period P, due date D (the report for
P, moved to a working day by the calendar):

* a reminder at each configured offset (≤ 0 days) from D, on the previous working
  day if that day is closed, at the send time; key ``reminder:<c>:<P>:<offset>``. Two
  offsets that land on the same working day (−3 and −1 around Easter) are one reminder,
  the one nearer the due date;
* from the first working day after D, an overdue notice, repeated every
  ``overdue_repeat_days`` (each on the next working day); key ``overdue:<c>:<P>:<k>``;
* ``escalation_after_days`` after D (next working day), one escalation to the process
  owner; key ``escalation:<c>:<P>``. None when the responsible unit is the process owner
  itself: its own overdue notices, review and weekly summary already carry it.

Reporting for P opens (``reporting_opens``) on 1 January of P+1 or on the day of P's
earliest reminder if that comes first: with a due date early in the year the −30 and −7
reminders fall in December of P itself, and the commitment must be waiting for P by
then (rules.dates opens the period on that day).

Extension (anstånd): when the process owner has moved P's due date (``CommitmentView.due``
differs from the calendar's), the whole cycle runs from the new date, under keys that end
in ``:ext<new date>``: the reminders before it are sent again relative to it, no overdue
notice goes out before it, and a later grant starts a fresh cycle again.

Catch-up: evaluated after downtime, only the latest reminder (if D has not passed)
or the latest overdue notice (if it has) is queued, never a backlog; a reminder whose
due date has passed is replaced by the overdue notice, not sent late. A notice found
after its planned instant goes in the current or next send slot (rules.calendar.catch_up).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from rules.calendar import SwedishCalendar, catch_up, send_at
from rules.lifecycle import PAGAENDE
from rules.model import CommitmentView, NoticeKind, Outcome, QueueNotice, Schedule


@dataclass(frozen=True)
class _Cycle:
    """The instants of one period's follow-up cycle; the same for every commitment sharing them."""

    due: date
    reminders: tuple[tuple[int, datetime], ...]
    first_overdue: datetime
    escalation: datetime


# Every commitment of an agreement (and of every agreement with the same schedule)
# shares its period's dates: computing them once per tick, not per row, is most of
# the rules' cost at scale (bench/tick.py).
@lru_cache(maxsize=4096)
def _cycle(due: date, s: Schedule, cal: SwedishCalendar) -> _Cycle:
    # Two offsets moved onto the same working day (Easter) are one reminder: the one nearer the due date.
    by_day = {cal.reminder_day(due, off): off for off in sorted(s.reminder_offsets)}
    return _Cycle(
        due=due,
        reminders=tuple((off, send_at(day, s.send_time, s.zone)) for day, off in sorted(by_day.items())),
        first_overdue=_overdue_at(due, 0, s, cal),
        escalation=send_at(cal.next_working_day(due + timedelta(days=s.escalation_after_days)), s.send_time, s.zone),
    )


@lru_cache(maxsize=4096)
def _regular_due(period: int, due_md: str, cal: SwedishCalendar) -> date:
    return cal.follow_up_due(period, due_md)


@lru_cache(maxsize=4096)
def reporting_opens(period: int, s: Schedule, cal: SwedishCalendar) -> date:
    """The day from which period ``period`` is asked for and may be reported."""
    days = [cal.reminder_day(cal.follow_up_due(period, s.due_md), off) for off in s.reminder_offsets]
    return min([date(period + 1, 1, 1), *days])


@lru_cache(maxsize=16384)
def _overdue_at(due: date, k: int, s: Schedule, cal: SwedishCalendar) -> datetime:
    day = cal.next_working_day(due + timedelta(days=1 + k * s.overdue_repeat_days))
    return send_at(day, s.send_time, s.zone)


def evaluate(c: CommitmentView, s: Schedule, now: datetime, cal: SwedishCalendar) -> Outcome:
    if c.state != PAGAENDE:
        return Outcome()
    regular = _regular_due(c.period, s.due_md, cal)
    cycle = _cycle(c.due or regular, s, cal)
    due = cycle.due
    extended = "" if due == regular else f":ext{due.isoformat()}"
    base = {"period": c.period, "due": due.isoformat()}
    first_overdue = cycle.first_overdue
    stop = send_at(c.terminates, s.send_time, s.zone) if c.terminates else None

    def notice(kind: NoticeKind, suffix: str, to: str, planned: datetime, **data: int) -> QueueNotice:
        when = catch_up(planned, now, s.send_time, s.zone, cal)
        if kind != "reminder":
            data["days_late"] = (when.astimezone(s.zone).date() - due).days
        return QueueNotice(
            key=f"{kind}:{c.id}:{c.period}{suffix}{extended}",
            kind=kind,
            recipients=(to,),
            send_at=when,
            agreement=c.agreement,
            commitment=c.id,
            period=c.period,
            data={**base, **data},
        )

    notices: list[QueueNotice] = []
    upcoming: list[datetime] = []
    if now < first_overdue:
        passed = [(off, when) for off, when in cycle.reminders if when <= now]
        coming = [when for _, when in cycle.reminders if when > now]
        if passed:
            off, when = max(passed, key=lambda r: r[1])
            # Counted from the day it goes: caught up after downtime, or after an extension given
            # late, it says how many days are really left.
            left = (due - catch_up(when, now, s.send_time, s.zone, cal).astimezone(s.zone).date()).days
            late = notice("reminder", f":{off}", c.unit_email, when, offset_days=off, days_left=left)
            # Caught up into the slot of the next reminder or of the first overdue notice: that one replaces it.
            if late.send_at < min([*coming, first_overdue]):
                notices.append(late)
        upcoming += coming
        upcoming.append(first_overdue)
    else:
        today = now.astimezone(s.zone).date()
        k = max(0, (today - due).days - 1) // s.overdue_repeat_days
        while k > 0 and _overdue_at(due, k, s, cal) > now:
            k -= 1
        following = _overdue_at(due, k + 1, s, cal)
        late = notice("overdue", f":{k}", c.unit_email, _overdue_at(due, k, s, cal), repeat=k)
        if late.send_at < following:
            notices.append(late)
        upcoming.append(following)
        if c.unit_email == c.owner_email:
            pass  # nobody is escalated to themselves
        elif cycle.escalation <= now:
            notices.append(notice("escalation", "", c.owner_email, cycle.escalation))
        else:
            upcoming.append(cycle.escalation)

    if stop is not None:
        # Nothing goes out on or after the day a termination takes effect.
        notices = [n for n in notices if n.send_at < stop]
        upcoming = [u for u in upcoming if u < stop]
    return Outcome(actions=tuple(notices), next_check=min(upcoming) if upcoming else None)
