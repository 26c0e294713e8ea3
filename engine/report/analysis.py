"""Reading the process owner's analysis of a period: its latest version for the report, every version for the page.

Saving one is engine.analysis's; the rows are ``report_analyses`` (engine.models.ReportAnalysis).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from engine.models import AgreementRow, ReportAnalysis
from engine.report.values import Analysis


def first_period(agreement: AgreementRow) -> int:
    """The first period the reports page lists: the first followed up, else the signing year."""
    return int(agreement.schedule.get("follow_up", {}).get("first_period") or agreement.signed.year)


def value_of(row: ReportAnalysis, zone: ZoneInfo) -> Analysis:
    return Analysis(
        period=row.period,
        version=row.version,
        text=row.text,
        by=row.written_by,
        written_at=row.written_at,
        written=row.written_at.astimezone(zone).date(),
    )


def _of(agreement: AgreementRow, period: int) -> Select[ReportAnalysis]:
    return (
        select(ReportAnalysis)
        .where(ReportAnalysis.agreement_id == agreement.id, ReportAnalysis.period == period)
        .order_by(ReportAnalysis.version.desc())
    )


def versions(session: Session, agreement: AgreementRow, period: int) -> tuple[Analysis, ...]:
    """Every saved version of the period's analysis, the latest first."""
    zone = ZoneInfo(agreement.timezone)
    return tuple(value_of(r, zone) for r in session.scalars(_of(agreement, period)))


def latest(session: Session, agreement: AgreementRow, period: int) -> Analysis | None:
    row = session.scalars(_of(agreement, period).limit(1)).first()
    return value_of(row, ZoneInfo(agreement.timezone)) if row is not None else None
