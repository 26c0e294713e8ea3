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

from datetime import date, datetime, timedelta

from engine.lifecycle import PAGAENDE
from rules.calendar import SwedishCalendar, send_at
from rules.model import CommitmentView, Outcome, QueueNotice, Schedule


def _overdue_day(due: date, k: int, s: Schedule, cal: SwedishCalendar) -> date:
    return cal.next_working_day(due + timedelta(days=1 + k * s.overdue_repeat_days))


def evaluate(c: CommitmentView, s: Schedule, now: datetime, cal: SwedishCalendar) -> Outcome:
    if c.state != PAGAENDE:
        return Outcome()
    due = cal.follow_up_due(c.period, s.due_md)

    def at(d: date) -> datetime:
        return send_at(d, s.send_time, s.zone)

    base = {"period": c.period, "due": due.isoformat()}
    first_overdue = at(_overdue_day(due, 0, s, cal))
    stop = at(c.terminates) if c.terminates else None

    notices: list[QueueNotice] = []
    upcoming: list[datetime] = []
    if now < first_overdue:
        reminders = [(off, at(cal.reminder_day(due, off))) for off in s.reminder_offsets]
        passed = [(off, when) for off, when in reminders if when <= now]
        if passed:
            off, when = max(passed, key=lambda r: r[1])
            notices.append(
                QueueNotice(
                    key=f"reminder:{c.id}:{c.period}:{off}",
                    kind="reminder",
                    recipients=(c.unit_email,),
                    send_at=max(when, now),
                    agreement=c.agreement,
                    commitment=c.id,
                    period=c.period,
                    data={**base, "offset_days": off, "days_left": (due - when.astimezone(s.zone).date()).days},
                )
            )
        upcoming += [when for _, when in reminders if when > now]
        upcoming.append(first_overdue)
    else:
        today = now.astimezone(s.zone).date()
        k = max(0, (today - due).days - 1) // s.overdue_repeat_days
        while k > 0 and at(_overdue_day(due, k, s, cal)) > now:
            k -= 1
        when = at(_overdue_day(due, k, s, cal))
        notices.append(
            QueueNotice(
                key=f"overdue:{c.id}:{c.period}:{k}",
                kind="overdue",
                recipients=(c.unit_email,),
                send_at=max(when, now),
                agreement=c.agreement,
                commitment=c.id,
                period=c.period,
                data={**base, "days_late": (when.astimezone(s.zone).date() - due).days, "repeat": k},
            )
        )
        upcoming.append(at(_overdue_day(due, k + 1, s, cal)))
        escalation = at(cal.next_working_day(due + timedelta(days=s.escalation_after_days)))
        if escalation <= now:
            notices.append(
                QueueNotice(
                    key=f"escalation:{c.id}:{c.period}",
                    kind="escalation",
                    recipients=(c.owner_email,),
                    send_at=max(escalation, now),
                    agreement=c.agreement,
                    commitment=c.id,
                    period=c.period,
                    data={**base, "days_late": (escalation.astimezone(s.zone).date() - due).days},
                )
            )
        else:
            upcoming.append(escalation)

    if stop is not None:
        # Nothing goes out on or after the day a termination takes effect.
        notices = [n for n in notices if n.send_at < stop]
        upcoming = [u for u in upcoming if u < stop]
    return Outcome(actions=tuple(notices), next_check=min(upcoming) if upcoming else None)
