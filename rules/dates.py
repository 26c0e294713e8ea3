"""The date-driven lifecycle moves: start, new period, end.

* ``start``: a ``planerad`` commitment starts on its timeframe's start date.
* ``new_period``: an ``uppföljd`` commitment (period P followed up) returns to
  ``pågående`` for period P+1 when P+1 has ended, i.e. on 1 January of P+2: the
  follow-up cycle for P+1 begins then, and the commitment shows as uppföljd for the
  rest of the year in which P was reported.
* ``end``: an ``uppföljd`` commitment ends instead when P was its last period (the
  year its timeframe, or a fixed-term agreement, ends); any commitment ends on the
  day a termination takes effect.

Moves happen at local midnight in the agreement's zone (00:00 exists on every day
in Europe/Stockholm; the daylight-saving changes happen at 02:00 and 03:00).
"""

from __future__ import annotations

from datetime import date, datetime, time

from engine.lifecycle import AVSLUTAD, PLANERAD, UPPFOLJD
from rules.calendar import SwedishCalendar, send_at
from rules.model import CommitmentView, FireTrigger, Outcome, Schedule

RULE = "regel"


def last_period(c: CommitmentView) -> int | None:
    ends = [d.year for d in (c.ends, c.valid_to) if d is not None]
    return min(ends) if ends else None


def evaluate(c: CommitmentView, s: Schedule, now: datetime, cal: SwedishCalendar) -> Outcome:
    if c.state == AVSLUTAD:
        return Outcome()
    today = now.astimezone(s.zone).date()

    def midnight(d: date) -> datetime:
        return send_at(d, time(0, 0), s.zone)

    upcoming: list[datetime] = []
    if c.terminates is not None:
        if today >= c.terminates:
            why = f"uppsägningen gäller från {c.terminates.isoformat()}"
            return Outcome(actions=(FireTrigger(commitment=c.id, trigger="end", rule=f"{RULE}:uppsägning", why=why),))
        upcoming.append(midnight(c.terminates))
    if c.state == PLANERAD:
        if today >= c.starts:
            why = f"tidsplanen började {c.starts.isoformat()}"
            return Outcome(actions=(FireTrigger(commitment=c.id, trigger="start", rule=f"{RULE}:start", why=why),))
        upcoming.append(midnight(c.starts))
    elif c.state == UPPFOLJD:
        last = last_period(c)
        if last is not None and c.period >= last:
            why = f"tidsplanen är slut och sista perioden ({c.period}) är uppföljd"
            return Outcome(actions=(FireTrigger(commitment=c.id, trigger="end", rule=f"{RULE}:slut", why=why),))
        begins = date(c.period + 2, 1, 1)
        if today >= begins:
            why = f"uppföljningen för {c.period + 1} börjar"
            return Outcome(
                actions=(FireTrigger(commitment=c.id, trigger="new_period", rule=f"{RULE}:ny-period", why=why),)
            )
        upcoming.append(midnight(begins))
    return Outcome(next_check=min(upcoming) if upcoming else None)
