"""The web's read models for whole agreements: the overdue review, the revision, the
parties' notices, and the yearly report with its calendar links.

As in ``engine.api.pages``: one transaction per call, frozen values out, no ORM row.
A page over one agreement shows the one asked for, or the first loaded when none (or an
unknown one) is asked for, beside the list to switch between them (``AgreementChoice``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import db, revisions, service
from engine.agreement import Agreement, parse_agreement
from engine.api.pages import today_in
from engine.api.queries import ActiveCommitment, PlanFile, RevisionRow, active_commitments, plan_file_of, revision_rows
from engine.db import Database
from engine.models import AgreementRow, PartyEvent, PartyRow, UnitRow
from engine.report import Report, build_report
from engine.report import analysis as report_analysis
from engine.report.values import Analysis
from engine.users import Person


@dataclass(frozen=True, kw_only=True)
class AgreementInfo:
    id: str
    title: str
    timezone: str  # instants on the agreement's pages are shown in it
    plan_version: int
    valid_to: date | None
    revision_number: int
    revision_due: date | None  # None: the term has no revision left
    terminates: date | None
    # The agreement's own words on changed conditions and on termination, when its file has them.
    change_clause: str | None
    termination_clause: str | None


@dataclass(frozen=True, kw_only=True)
class AgreementChoice:
    chosen: AgreementInfo | None  # None: no agreement is loaded
    agreements: tuple[AgreementInfo, ...]


def _info(a: AgreementRow) -> AgreementInfo:
    head = a.document.get("agreement", {})
    return AgreementInfo(
        id=a.id,
        title=a.title,
        timezone=a.timezone,
        plan_version=a.plan_version,
        valid_to=a.valid_to,
        revision_number=a.revision_number,
        revision_due=a.revision_due,
        terminates=a.terminates,
        change_clause=head.get("change_clause") or None,
        termination_clause=head.get("termination_clause") or None,
    )


def choose(session: Session, wanted: str | None) -> tuple[AgreementRow | None, AgreementChoice]:
    """The agreement a page over one agreement shows, and the ones it may switch to (every such read model's start)."""
    rows = list(session.scalars(select(AgreementRow).order_by(AgreementRow.id)))
    # A page shows something rather than refuse: the first agreement unless a known one is named.
    chosen = next((a for a in rows if a.id == wanted), rows[0] if rows else None)
    infos = tuple(_info(a) for a in rows)
    return chosen, AgreementChoice(chosen=_info(chosen) if chosen else None, agreements=infos)


def agreement_choice(database: Database, wanted: str | None) -> AgreementChoice:
    with db.transaction(database) as session:
        return choose(session, wanted)[1]


# -- the revision ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OpenRevision:
    number: int
    opened_at: datetime


@dataclass(frozen=True, kw_only=True)
class RevisionPage:
    choice: AgreementChoice
    revision: OpenRevision | None  # None: no revision is open
    rows: tuple[RevisionRow, ...]
    due: date | None

    @property
    def undecided(self) -> int:
        return sum(1 for r in self.rows if r.decision is None)


def revision_page(database: Database, wanted: str | None) -> RevisionPage:
    with db.transaction(database) as session:
        agreement, choice = choose(session, wanted)
        if agreement is None:
            return RevisionPage(choice=choice, revision=None, rows=(), due=None)
        rev = revisions.current_revision(session, agreement.id)
        return RevisionPage(
            choice=choice,
            revision=OpenRevision(number=rev.number, opened_at=rev.opened_at) if rev is not None else None,
            rows=revision_rows(session, agreement.id, rev),
            due=agreement.revision_due,
        )


def agreement_of(database: Database, commitment: str) -> str:
    """The agreement a commitment (full or short id) belongs to; NotFound when there is none."""
    with db.transaction(database) as session:
        return service.resolve_commitment(session, commitment).agreement_id


def revised_plan(text: str, name: str) -> Agreement:
    """An uploaded revised agreement file, checked as ``samverkan init`` checks one.

    Raises AgreementFileError with every problem and its line; reads no database.
    """
    return parse_agreement(text, name)


# -- changed conditions and termination ------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PartyInfo:
    id: str
    name: str


@dataclass(frozen=True, kw_only=True)
class PartyNotice:
    kind: str  # change | termination
    party: str
    party_name: str
    text: str
    effective: date | None
    commitments: tuple[str, ...]
    by: str
    recorded_at: datetime


@dataclass(frozen=True, kw_only=True)
class PartiesPage:
    choice: AgreementChoice
    parties: tuple[PartyInfo, ...]  # only those the person may speak for
    active: tuple[ActiveCommitment, ...]
    events: tuple[PartyNotice, ...]  # the latest first


def parties_page(database: Database, wanted: str | None, *, who: Person) -> PartiesPage:
    with db.transaction(database) as session:
        agreement, choice = choose(session, wanted)
        if agreement is None:
            return PartiesPage(choice=choice, parties=(), active=(), events=())
        every = {p.id: p.name for p in session.scalars(select(PartyRow).where(PartyRow.agreement_id == agreement.id))}
        parties = tuple(PartyInfo(id=pid, name=name) for pid, name in every.items() if who.may_speak_for(pid))
        events = tuple(
            PartyNotice(
                kind=e.kind,
                party=e.party,
                party_name=every.get(e.party, e.party),
                text=e.text,
                effective=e.effective,
                commitments=tuple(e.commitments),
                by=e.by,
                recorded_at=e.recorded_at,
            )
            for e in session.scalars(
                select(PartyEvent).where(PartyEvent.agreement_id == agreement.id).order_by(PartyEvent.id.desc())
            )
        )
        active = tuple(active_commitments(session, agreement.id))
        return PartiesPage(choice=choice, parties=parties, active=active, events=events)


# -- the yearly report and the calendar ------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class UnitName:
    id: str
    name: str


@dataclass(frozen=True, kw_only=True)
class ReportsPage:
    choice: AgreementChoice
    years: tuple[int, ...]  # the latest first: from this year back to the first followed up
    units: tuple[UnitName, ...]
    parties: tuple[PartyInfo, ...]
    # The period whose analysis the page shows: the one asked for, else last year's (written in
    # the spring after it), and every saved version of it, the latest first.
    period: int | None = None
    analysis: tuple[Analysis, ...] = ()

    @property
    def version(self) -> int:
        """The version a save from the page's form replaces (0: none yet)."""
        return self.analysis[0].version if self.analysis else 0


def reports_page(database: Database, wanted: str | None, *, now: datetime, period: int | None = None) -> ReportsPage:
    with db.transaction(database) as session:
        agreement, choice = choose(session, wanted)
        if agreement is None:
            return ReportsPage(choice=choice, years=(), units=(), parties=())
        first = report_analysis.first_period(agreement)
        last = today_in(agreement.timezone, now).year
        years = tuple(range(last, first - 1, -1))
        if period not in years:
            period = last - 1 if last - 1 in years else (years[0] if years else None)
        return ReportsPage(
            choice=choice,
            years=years,
            period=period,
            analysis=report_analysis.versions(session, agreement, period) if period is not None else (),
            units=tuple(
                UnitName(id=u.id, name=u.name)
                for u in session.scalars(select(UnitRow).where(UnitRow.agreement_id == agreement.id))
            ),
            parties=tuple(
                PartyInfo(id=p.id, name=p.name)
                for p in session.scalars(select(PartyRow).where(PartyRow.agreement_id == agreement.id))
            ),
        )


def yearly_report(database: Database, *, period: int, wanted: str | None) -> Report:
    """The yearly report of the agreement the reports page shows (engine.report.build_report)."""
    with db.transaction(database) as session:
        agreement, _ = choose(session, wanted)
        return build_report(session, period=period, agreement_id=agreement.id if agreement else None)


def plan_file(database: Database, wanted: str | None) -> PlanFile | None:
    """The current plan of the agreement the pages show, as an agreement file; None when none is loaded."""
    with db.transaction(database) as session:
        agreement, _ = choose(session, wanted)
        return plan_file_of(session, agreement) if agreement is not None else None
