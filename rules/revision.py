"""The revision every N years, counted from the signing date.

Rules of this module:

* Revision n's nominal date is ``add_years(signed, n × N)``: always from the signing
  date, never from the previous (already moved) date, so an agreement signed on
  29 February is revised on 28 February in common years and on 29 February again in
  leap years.
* Its **deadline** is the nominal date moved to the next working day. That one date is
  what the kick-off, the late notices, ``revision status``, the review, the calendar
  and the report show (``deadline``); the engine stores it as ``revision_due``.
* A fixed-term agreement (``valid_to``) has revisions n = 1, 2, … while the previous
  nominal date lies before the term's last day; a nominal date after it is capped to
  it (that last revision is the prompt to renew), and a deadline the working-day move
  would push past the term is the term's last working day instead.
* A kick-off goes to both parties' contacts and the process owner ``kickoff_days_before``
  the deadline (on the previous working day if that day is closed), key
  ``revision_kickoff:<agreement>:<n>``. While the revision is not completed after its
  deadline, a late-revision notice goes out every ``late_repeat_days`` (next working
  day), key ``revision_overdue:<agreement>:<n>:<k>``.
* If revision n is never completed, revision n+1 replaces it when its kick-off arrives:
  the late notices for n stop there.
* Completing revision n on day T schedules the first revision after n whose deadline is
  after T (``following``); when the term has none left there is no next revision
  (``revision_due`` is None) and nothing more is sent about revisions.
* Nothing about revisions goes out after the term's last day or on or after the day a
  termination takes effect.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from rules.calendar import SwedishCalendar, add_years, catch_up, send_at
from rules.model import Action, AdvanceRevision, AgreementView, Outcome, QueueNotice, Schedule


def nominal(signed: date, every_years: int, n: int, valid_to: date | None) -> date | None:
    """Revision ``n``'s (n ≥ 1) date before the working-day move, or None when the term has no n-th."""
    if n < 1:
        raise ValueError(f"revideringarna numreras från 1, inte {n}")
    if valid_to is not None and n > 1 and add_years(signed, (n - 1) * every_years) >= valid_to:
        return None
    d = add_years(signed, n * every_years)
    return min(d, valid_to) if valid_to is not None else d


def deadline(signed: date, every_years: int, n: int, valid_to: date | None, cal: SwedishCalendar) -> date | None:
    """Revision ``n``'s deadline: the nominal date moved to a working day, within the term."""
    d = nominal(signed, every_years, n, valid_to)
    if d is None:
        return None
    moved = cal.next_working_day(d)
    if valid_to is not None and moved > valid_to:
        return cal.previous_working_day(valid_to)
    return moved


def following(
    signed: date,
    every_years: int,
    valid_to: date | None,
    after: int,
    today: date,
    cal: SwedishCalendar,
    *,
    inclusive: bool = False,
) -> tuple[int, date | None]:
    """The first revision after number ``after`` whose deadline is after ``today`` (or on it, ``inclusive``).

    Returns its number and deadline; the deadline is None when the term has none left.
    """
    n = after + 1
    while True:
        due = deadline(signed, every_years, n, valid_to, cal)
        if due is None or due > today or (inclusive and due == today):
            return n, due
        n += 1


def kickoff_day(due: date, s: Schedule, cal: SwedishCalendar) -> date:
    return cal.reminder_day(due, -s.revision_kickoff_days)


def evaluate(a: AgreementView, s: Schedule, now: datetime, cal: SwedishCalendar) -> Outcome:
    def at(d: date) -> datetime:
        return send_at(d, s.send_time, s.zone)

    today = now.astimezone(s.zone).date()
    # Nothing is sent on or after the first day that is not covered any more.
    ends = [d for d in (a.terminates, a.valid_to + timedelta(days=1) if a.valid_to else None) if d is not None]
    stop = min(ends) if ends else None
    if a.revision_due is None or (stop is not None and today >= stop):
        return Outcome()
    every = s.revision_every_years
    actions: list[Action] = []
    number, due = a.revision_number, a.revision_due
    # Skip forward over revisions whose successor's kick-off has already come.
    while True:
        nxt = deadline(a.signed, every, number + 1, a.valid_to, cal)
        if nxt is None or at(kickoff_day(nxt, s, cal)) > now:
            break
        number, due = number + 1, nxt
        actions.append(AdvanceRevision(agreement=a.id, number=number, next_due=due))

    def late_day(k: int) -> date:
        return cal.next_working_day(due + timedelta(days=1 + k * s.revision_late_repeat_days))

    kickoff = at(kickoff_day(due, s, cal))
    recipients = tuple(dict.fromkeys((*a.party_emails, a.owner_email)))
    upcoming: list[datetime] = []
    data = {"revision": number, "due": due.isoformat()}
    if kickoff <= now:
        actions.append(
            QueueNotice(
                key=f"revision_kickoff:{a.id}:{number}",
                kind="revision_kickoff",
                recipients=recipients,
                send_at=catch_up(kickoff, now, s.send_time, s.zone, cal),
                agreement=a.id,
                data=data,
            )
        )
    else:
        upcoming.append(kickoff)
    if today > due:
        k = max(0, (today - due).days - 1) // s.revision_late_repeat_days
        while k > 0 and at(late_day(k)) > now:
            k -= 1
        when = catch_up(at(late_day(k)), now, s.send_time, s.zone, cal)
        if when < at(late_day(k + 1)):
            actions.append(
                QueueNotice(
                    key=f"revision_overdue:{a.id}:{number}:{k}",
                    kind="revision_overdue",
                    recipients=recipients,
                    send_at=when,
                    agreement=a.id,
                    data={**data, "days_late": (when.astimezone(s.zone).date() - due).days},
                )
            )
        upcoming.append(at(late_day(k + 1)))
    else:
        upcoming.append(at(late_day(0)))
    nxt = deadline(a.signed, every, number + 1, a.valid_to, cal)
    if nxt is not None:
        upcoming.append(at(kickoff_day(nxt, s, cal)))
    if stop is not None:
        actions = [x for x in actions if not isinstance(x, QueueNotice) or x.send_at < at(stop)]
        upcoming = [u for u in upcoming if u < at(stop)]
    return Outcome(actions=tuple(actions), next_check=min(upcoming) if upcoming else None)
