"""The revision every N years, counted from the signing date.

Revision number n is due on ``revision_due`` (stored; the first is N years after
signing, moved to the next working day). A kick-off goes to both parties' contacts
and the process owner ``kickoff_days_before`` the due date (on the previous working
day if that day is closed), key ``revision_kickoff:<agreement>:<n>``. While the
revision is not completed after its due date, a late-revision notice goes out every
``late_repeat_days`` (next working day), key ``revision_overdue:<agreement>:<n>:<k>``.

If revision n is never completed, cycle n+1 (due N years after n's due date)
replaces it when its kick-off arrives: the late notices for n stop there. A
fixed-term agreement's revision is due no later than the term's last day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from rules.calendar import SwedishCalendar, add_years, send_at
from rules.model import Action, AdvanceRevision, AgreementView, Outcome, QueueNotice, Schedule


def nominal_due(base: date, every_years: int, valid_to: date | None) -> date:
    due = add_years(base, every_years)
    return min(due, valid_to) if valid_to is not None else due


def kickoff_day(due: date, s: Schedule, cal: SwedishCalendar) -> date:
    return cal.reminder_day(cal.next_working_day(due), -s.revision_kickoff_days)


def evaluate(a: AgreementView, s: Schedule, now: datetime, cal: SwedishCalendar) -> Outcome:
    def at(d: date) -> datetime:
        return send_at(d, s.send_time, s.zone)

    def late_day(k: int) -> date:
        return cal.next_working_day(working_due + timedelta(days=1 + k * s.revision_late_repeat_days))

    today = now.astimezone(s.zone).date()
    actions: list[Action] = []
    number, due = a.revision_number, a.revision_due
    stop = a.terminates
    if stop is not None and today >= stop:
        return Outcome()
    # Skip forward over cycles whose successor's kick-off has already come.
    while True:
        following = nominal_due(due, s.revision_every_years, a.valid_to)
        if following <= due or at(kickoff_day(following, s, cal)) > now:
            break
        number, due = number + 1, following
        actions.append(AdvanceRevision(agreement=a.id, number=number, next_due=due))

    working_due = cal.next_working_day(due)
    kickoff = at(kickoff_day(due, s, cal))
    recipients = tuple(dict.fromkeys((*a.party_emails, a.owner_email)))
    upcoming: list[datetime] = []
    data = {"revision": number, "due": working_due.isoformat()}
    if kickoff <= now:
        actions.append(
            QueueNotice(
                key=f"revision_kickoff:{a.id}:{number}",
                kind="revision_kickoff",
                recipients=recipients,
                send_at=max(kickoff, now),
                agreement=a.id,
                data=data,
            )
        )
    else:
        upcoming.append(kickoff)
    if today > working_due:
        k = max(0, (today - working_due).days - 1) // s.revision_late_repeat_days
        while k > 0 and at(late_day(k)) > now:
            k -= 1
        actions.append(
            QueueNotice(
                key=f"revision_overdue:{a.id}:{number}:{k}",
                kind="revision_overdue",
                recipients=recipients,
                send_at=max(at(late_day(k)), now),
                agreement=a.id,
                data={**data, "days_late": (late_day(k) - working_due).days},
            )
        )
        upcoming.append(at(late_day(k + 1)))
    else:
        upcoming.append(at(cal.next_working_day(working_due + timedelta(days=1))))
    following = nominal_due(due, s.revision_every_years, a.valid_to)
    if following > due:
        upcoming.append(at(kickoff_day(following, s, cal)))
    if stop is not None:
        actions = [x for x in actions if not isinstance(x, QueueNotice) or x.send_at < at(stop)]
        upcoming = [u for u in upcoming if u < at(stop)]
    return Outcome(actions=tuple(actions), next_check=min(upcoming) if upcoming else None)
