"""The process owner's analysis and conclusions for a yearly report: saved per agreement and period.

Every save is the next version of ``report_analyses`` (who, when, the text); the report
shows the latest, the earlier ones are its history. A save names the version it was
written on (the web's form does; the CLI, which writes a file over whatever is there,
does not): one saved meanwhile by someone else is refused, and of two saves from the
same version the database's unique version lets one through. The text is checked by
rules.analysis, the same for the web and the CLI.

Which periods take one: from the agreement's first follow-up period (its signing year
when none is set) to the current year in the agreement's time zone, the years the
reports page lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from engine.models import ReportAnalysis
from engine.report.analysis import first_period, latest, value_of
from engine.report.values import Analysis
from engine.service import agreement_for
from rules import analysis
from rules.errors import InvalidValue

VERSION_KEY = "uq_report_analyses_version"


@dataclass(frozen=True, kw_only=True)
class Saved:
    agreement: str
    period: int
    analysis: Analysis
    changed: bool  # False: the text was the latest version's already, and nothing was written


def save(
    session: Session,
    *,
    agreement_id: str | None,
    period: int,
    text: str,
    by: str,
    now: datetime,
    version: int | None,
) -> Saved:
    """Save ``text`` as the period's next version, or raise InvalidValue (nothing written).

    ``version``: the version the writer saw (0: none yet); None saves over whatever is there.
    """
    agreement = agreement_for(session, agreement_id, lock=False)
    zone = ZoneInfo(agreement.timezone)
    first, this_year = first_period(agreement), now.astimezone(zone).year
    if not first <= period <= this_year:
        raise InvalidValue("period", f"{period}: analysen skrivs för ett år från {first} till {this_year}")
    text = analysis.checked(text)
    by = analysis.checked_name(by)
    now_latest = latest(session, agreement, period)
    seen = now_latest.version if now_latest else 0
    if version is not None and version != seen:
        raise InvalidValue(
            "version",
            f"analysen för {period} har ändrats sedan formuläret öppnades (nu version {seen}"
            + (f", {now_latest.changed_line[0].lower()}{now_latest.changed_line[1:]}" if now_latest else "")
            + "); läs den nya versionen och spara igen",
        )
    if now_latest is not None and now_latest.text == text:
        return Saved(agreement=agreement.id, period=period, analysis=now_latest, changed=False)
    row = ReportAnalysis(
        agreement_id=agreement.id,
        period=period,
        version=seen + 1,
        text=text,
        written_by=by,
        written_at=now,
    )
    session.add(row)
    session.flush()  # a clash with a save made meanwhile fails here, inside the caller's transaction
    return Saved(agreement=agreement.id, period=period, analysis=value_of(row, zone), changed=True)
