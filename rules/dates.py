"""The date-driven lifecycle moves: start, new period, end.

* ``start``: a ``planerad`` commitment starts on its timeframe's start date.
* ``new_period``: an ``uppföljd`` commitment (period P followed up) returns to
  ``pågående`` for P+1 on the day reporting for P+1 opens (rules.follow_up.reporting_opens):
  1 January of P+2, or P+1's first reminder day if that is earlier, as it is for a due
  date early in the year. Until then it shows as uppföljd.
* ``end``, with why:
  - an ``uppföljd`` commitment whose P was its last period (the year its timeframe, or a
    fixed-term agreement, ends);
  - a commitment whose open period lies after its last period (a revision that adopted
    a plan after the last period was reported);
  - a ``planerad`` or ``reviderad`` commitment when its fixed term is over: nothing is
    asked of it any more;
  - any commitment on the day a termination takes effect.

Moves happen at local midnight in the agreement's zone (00:00 exists on every day
in Europe/Stockholm; the daylight-saving changes happen at 02:00 and 03:00).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from rules import texts
from rules.calendar import SwedishCalendar, send_at
from rules.follow_up import reporting_opens
from rules.lifecycle import AVSLUTAD, PLANERAD, REVIDERAD, UPPFOLJD
from rules.model import CommitmentView, FireTrigger, Outcome, Schedule

RULE = "regel"


def last_period(c: CommitmentView) -> int | None:
    ends = [d.year for d in (c.ends, c.valid_to) if d is not None]
    return min(ends) if ends else None


def _fire(c: CommitmentView, trigger: str, rule: str, why: str) -> Outcome:
    return Outcome(actions=(FireTrigger(commitment=c.id, trigger=trigger, rule=f"{RULE}:{rule}", why=why),))


def evaluate(c: CommitmentView, s: Schedule, now: datetime, cal: SwedishCalendar) -> Outcome:
    if c.state == AVSLUTAD:
        return Outcome()
    today = now.astimezone(s.zone).date()

    def midnight(d: date) -> datetime:
        return send_at(d, time(0, 0), s.zone)

    upcoming: list[datetime] = []
    if c.terminates is not None:
        if today >= c.terminates:
            return _fire(c, "end", "uppsägning", f"uppsägningen gäller från {texts.datum(c.terminates)}")
        upcoming.append(midnight(c.terminates))
    last = last_period(c)
    if c.valid_to is not None and c.state in (PLANERAD, REVIDERAD):
        if today > c.valid_to:
            return _fire(c, "end", "slut", f"överenskommelsens giltighetstid löpte ut {texts.datum(c.valid_to)}")
        upcoming.append(midnight(c.valid_to + timedelta(days=1)))
    if last is not None and c.period > last and c.state != UPPFOLJD:
        return _fire(c, "end", "slut", f"tidsplanen är slut (sista perioden {last} är redan uppföljd)")
    if c.state == PLANERAD:
        if today >= c.starts:
            return _fire(c, "start", "start", f"tidsplanen började {texts.datum(c.starts)}")
        upcoming.append(midnight(c.starts))
    elif c.state == UPPFOLJD:
        if last is not None and c.period >= last:
            return _fire(c, "end", "slut", f"tidsplanen är slut och sista perioden ({c.period}) är uppföljd")
        opens = reporting_opens(c.period + 1, s, cal)
        if today >= opens:
            return _fire(c, "new_period", "ny-period", f"uppföljningen för {c.period + 1} börjar")
        upcoming.append(midnight(opens))
    return Outcome(next_check=min(upcoming) if upcoming else None)


def next_report(
    state: str,
    period: int,
    *,
    last: int | None,
    terminates: date | None,
    due_md: str,
    cal: SwedishCalendar,
    due: date | None = None,
) -> tuple[int, date] | None:
    """The follow-up a commitment is asked for next, and its due date; None when none is coming.

    The open period's, until it is reported; once it is (``uppföljd``), the next period's,
    unless the reported one was the last. None for an ended commitment, and for a report
    due on or after the day a termination takes effect (nothing is asked from then on).
    Every edge that says "next due" asks this: the status, the calendar export and the mail
    attachments agree after a report. ``due`` is the open period's stored due date
    (commitments.next_due, which carries a granted extension); the calendar's when None,
    and always for the next period.
    """
    if state == AVSLUTAD:
        return None
    if state == UPPFOLJD:
        if last is not None and period >= last:
            return None
        period += 1
        due = None
    due = due or cal.follow_up_due(period, due_md)
    if terminates is not None and due >= terminates:
        return None
    return period, due
