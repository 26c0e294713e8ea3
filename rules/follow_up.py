"""The yearly follow-up: reminders before the due date, overdue notices after it, an escalation.

For a commitment that is ``pågående`` with open period P, due date D (the report for
P, moved to a working day by the calendar):

* a reminder at each configured offset (≤ 0 days) from D, on the previous working
  day if that day is closed, at the send time; key ``reminder:<c>:<P>:<offset>``;
* from the first working day after D, an overdue notice, repeated every
  ``overdue_repeat_days`` (each on the next working day); key ``overdue:<c>:<P>:<k>``;
* ``escalation_after_days`` after D (next working day), one escalation to the process
  owner; key ``escalation:<c>:<P>``.

Catch-up: evaluated after downtime, only the latest reminder (if D has not passed)
or the latest overdue notice (if it has) is queued, never a backlog; a reminder whose
due date has passed is replaced by the overdue notice, not sent late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from engine.lifecycle import PAGAENDE
from rules.calendar import SwedishCalendar, send_at
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
def _cycle(period: int, s: Schedule, cal: SwedishCalendar) -> _Cycle:
    due = cal.follow_up_due(period, s.due_md)
    return _Cycle(
        due=due,
        reminders=tuple((off, send_at(cal.reminder_day(due, off), s.send_time, s.zone)) for off in s.reminder_offsets),
        first_overdue=_overdue_at(due, 0, s, cal),
        escalation=send_at(cal.next_working_day(due + timedelta(days=s.escalation_after_days)), s.send_time, s.zone),
    )


@lru_cache(maxsize=16384)
def _overdue_at(due: date, k: int, s: Schedule, cal: SwedishCalendar) -> datetime:
    day = cal.next_working_day(due + timedelta(days=1 + k * s.overdue_repeat_days))
    return send_at(day, s.send_time, s.zone)


def evaluate(c: CommitmentView, s: Schedule, now: datetime, cal: SwedishCalendar) -> Outcome:
    if c.state != PAGAENDE:
        return Outcome()
    cycle = _cycle(c.period, s, cal)
    due = cycle.due
    base = {"period": c.period, "due": due.isoformat()}
    first_overdue = cycle.first_overdue
    stop = send_at(c.terminates, s.send_time, s.zone) if c.terminates else None

    def notice(kind: NoticeKind, suffix: str, to: str, planned: datetime, **data: int) -> QueueNotice:
        # Planned in the past (a late tick, catch-up): it goes now, not at an instant already gone.
        return QueueNotice(
            key=f"{kind}:{c.id}:{c.period}{suffix}",
            kind=kind,
            recipients=(to,),
            send_at=max(planned, now),
            agreement=c.agreement,
            commitment=c.id,
            period=c.period,
            data={**base, **data},
        )

    def days(later: datetime, earlier: date) -> int:
        return (later.astimezone(s.zone).date() - earlier).days

    notices: list[QueueNotice] = []
    upcoming: list[datetime] = []
    if now < first_overdue:
        passed = [(off, when) for off, when in cycle.reminders if when <= now]
        if passed:
            off, when = max(passed, key=lambda r: r[1])
            left = (due - when.astimezone(s.zone).date()).days
            notices.append(notice("reminder", f":{off}", c.unit_email, when, offset_days=off, days_left=left))
        upcoming += [when for _, when in cycle.reminders if when > now]
        upcoming.append(first_overdue)
    else:
        today = now.astimezone(s.zone).date()
        k = max(0, (today - due).days - 1) // s.overdue_repeat_days
        while k > 0 and _overdue_at(due, k, s, cal) > now:
            k -= 1
        when = _overdue_at(due, k, s, cal)
        notices.append(notice("overdue", f":{k}", c.unit_email, when, days_late=days(when, due), repeat=k))
        upcoming.append(_overdue_at(due, k + 1, s, cal))
        if cycle.escalation <= now:
            late = days(cycle.escalation, due)
            notices.append(notice("escalation", "", c.owner_email, cycle.escalation, days_late=late))
        else:
            upcoming.append(cycle.escalation)

    if stop is not None:
        # Nothing goes out on or after the day a termination takes effect.
        notices = [n for n in notices if n.send_at < stop]
        upcoming = [u for u in upcoming if u < stop]
    return Outcome(actions=tuple(notices), next_check=min(upcoming) if upcoming else None)
