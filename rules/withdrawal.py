"""Withdrawal: a queued notice whose reason is gone is withdrawn, never sent.

The engine asks this when the reason may have gone (a follow-up recorded, a
commitment ended or moved on by a revision, a termination, a completed revision, an
agreement closed), in that transaction, and again when the dispatcher claims a notice,
so a delivery that lags behind sends nothing stale. The answer is a Swedish reason
(stored with the withdrawn notice and shown to the process owner), or None.

A notice is stale when:

* reminder, overdue, escalation for commitment C and period P: C has ended; P's
  follow-up is recorded; C's open period is no longer P; P's due date has moved since it
  was queued (an extension: the new date's cycle replaces it); the termination took effect
  by the day it would go; or, for a reminder, that day is after the due date;
* revision_kickoff, revision_overdue for revision n: n is completed; the agreement has
  moved past n; the termination took effect, or the term ended, by the day it would go;
* weekly_summary: the termination took effect by the day it would go, no commitment is live,
  or nothing is left to review (what was late has been reported since it was queued);
* deviation: the latest version of that follow-up no longer falls below the target;
* calendar_cancel (held for the recipient's next mail): C has ended, the termination took
  effect or the term ended — no mail about the agreement is coming to carry it.

Change and termination notices, and the process owner's delivery failures, are facts
that stay true: they are never withdrawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from rules import texts
from rules.lifecycle import AVSLUTAD

FOLLOW_UP_KINDS = frozenset({"reminder", "overdue", "escalation"})
REVISION_KINDS = frozenset({"revision_kickoff", "revision_overdue"})
WITHDRAWABLE = FOLLOW_UP_KINDS | REVISION_KINDS | {"weekly_summary", "deviation", "calendar_cancel"}


@dataclass(frozen=True, kw_only=True)
class AgreementFacts:
    zone: ZoneInfo
    terminates: date | None
    valid_to: date | None
    revision_number: int
    completed_revisions: frozenset[int]
    live: bool
    # Something for the weekly review now (a late follow-up, a failed notice, a flag).
    needs_attention: bool = True


@dataclass(frozen=True, kw_only=True)
class CommitmentFacts:
    state: str
    period: int
    # Periods whose follow-up is recorded.
    reported: frozenset[int]
    # Per (period, measure): whether the latest recorded value is below the measure's target.
    below_target: Mapping[tuple[int, str], bool]
    # The open period's due date as stored (it carries an extension); None: not known.
    due: date | None = None


def reason(
    kind: str,
    send_at: datetime,
    period: int | None,
    data: Mapping[str, Any],
    *,
    now: datetime,
    agreement: AgreementFacts,
    commitment: CommitmentFacts | None,
) -> str | None:
    """Why a notice queued as described must not be sent any more, or None if it still must.

    The day it would go is its send time, or ``now`` if that is later: a notice held up
    past a termination or the end of the term (the mail server was down) is not sent then.
    """
    if kind not in WITHDRAWABLE:
        return None
    day = max(send_at, now).astimezone(agreement.zone).date()
    if kind == "deviation":
        # About a report already made: true whatever happened to the agreement since.
        if commitment is None or period is None:
            return None
        if commitment.below_target.get((period, str(data.get("measure", "")))) is False:
            return "uppföljningen är rättad och ligger inte längre under målet"
        return None
    if agreement.terminates is not None and day >= agreement.terminates:
        return f"överenskommelsen är uppsagd från {texts.datum(agreement.terminates)}"
    if kind == "calendar_cancel":
        # Queued because the period was reported: only the end of the commitment or the term stops it.
        if commitment is None or commitment.state == AVSLUTAD:
            return "åtagandet är avslutat"
        if agreement.valid_to is not None and day > agreement.valid_to:
            return f"överenskommelsens giltighetstid löpte ut {texts.datum(agreement.valid_to)}"
        return None
    if kind in FOLLOW_UP_KINDS:
        if commitment is None or commitment.state == AVSLUTAD:
            return "åtagandet är avslutat"
        if period in commitment.reported:
            return f"uppföljningen för {period} är registrerad"
        if commitment.period != period:
            return f"perioden {period} är inte längre öppen (åtagandet följs nu upp för {commitment.period})"
        if commitment.due is not None and "due" in data and str(data["due"]) != commitment.due.isoformat():
            return f"sista dagen är flyttad till {texts.datum(commitment.due)} (anstånd)"
        if kind == "reminder" and "due" in data and day > date.fromisoformat(str(data["due"])):
            # Held up past the due date: the overdue notice replaces it, as it does at the tick.
            return (
                f"sista dagen {texts.datum(str(data['due']))} har passerat; "
                "påminnelsen om försenad rapport ersätter den"
            )
    elif kind in REVISION_KINDS:
        number = int(data.get("revision", 0))
        if number in agreement.completed_revisions:
            return f"revidering {number} är genomförd"
        if agreement.revision_number > number:
            return f"revidering {number} har ersatts av revidering {agreement.revision_number}"
        if agreement.valid_to is not None and day > agreement.valid_to:
            return f"överenskommelsens giltighetstid löpte ut {texts.datum(agreement.valid_to)}"
    elif not agreement.live:  # the weekly summary
        return "inga åtaganden är kvar i överenskommelsen"
    elif not agreement.needs_attention:
        return "inget är försenat, olevererat eller flaggat längre"
    return None
