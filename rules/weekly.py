"""The weekly summary to the process owner: Mondays at the send time, when there is something.

The summary is the overdue review (late follow-ups, a late revision, notices that
could not be delivered, flagged commitments); a week with nothing to review sends
nothing, and an agreement with no live commitment left sends none again. If Monday
is not a working day it goes on the next working day. Key
``weekly_summary:<agreement>:<ISO year>-W<week>``; after downtime only the current
week's summary is sent, in the current or next send slot (rules.calendar.catch_up),
and not at all if that slot is already next week's.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from rules.calendar import SwedishCalendar, catch_up, send_at
from rules.model import Outcome, QueueNotice, Schedule


def week_instant(day: date, s: Schedule, cal: SwedishCalendar) -> datetime:
    monday = day - timedelta(days=day.weekday())
    return send_at(cal.next_working_day(monday), s.send_time, s.zone)


def evaluate(
    *,
    agreement: str,
    owner_email: str,
    needs_attention: bool,
    s: Schedule,
    now: datetime,
    cal: SwedishCalendar,
    live: bool = True,
) -> Outcome:
    if not live:
        return Outcome()
    today = now.astimezone(s.zone).date()
    this_week = week_instant(today, s, cal)
    following = week_instant(today + timedelta(days=7), s, cal)
    if now < this_week:
        return Outcome(next_check=this_week)
    when = catch_up(this_week, now, s.send_time, s.zone, cal)
    if not needs_attention or when >= following:
        return Outcome(next_check=following)
    year, week, _ = today.isocalendar()
    notice = QueueNotice(
        key=f"weekly_summary:{agreement}:{year}-W{week:02d}",
        kind="weekly_summary",
        recipients=(owner_email,),
        send_at=when,
        agreement=agreement,
        data={"week": f"{year}-W{week:02d}"},
    )
    return Outcome(actions=(notice,), next_check=following)
