"""The web's dashboard: every agreement's areas, insatser and commitments at a glance.

One transaction, frozen values, no ORM row (as everywhere in engine.api); a unit
contact gets only the commitments its unit is responsible for.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from engine import db
from engine.api.pages import today_in
from engine.db import Database
from engine.models import AgreementRow, AreaRow, Commitment, EffortRow, PartyRow, UnitRow
from engine.users import Person
from rules import lifecycle, texts


@dataclass(frozen=True, kw_only=True)
class CommitmentLine:
    id: str
    party: str
    party_name: str
    responsible_name: str
    state: str
    period: int
    next_due: date | None
    days_left: int | None  # negative: late

    @property
    def late(self) -> bool:
        return self.state == lifecycle.PAGAENDE and self.days_left is not None and self.days_left < 0


@dataclass(frozen=True, kw_only=True)
class EffortBlock:
    id: str
    title: str
    timeframe: str
    commitments: tuple[CommitmentLine, ...]


@dataclass(frozen=True, kw_only=True)
class AreaBlock:
    number: int
    title: str
    efforts: tuple[EffortBlock, ...]


@dataclass(frozen=True, kw_only=True)
class AgreementBlock:
    id: str
    title: str
    signed: date
    terminates: date | None
    areas: tuple[AreaBlock, ...]
    counts: tuple[tuple[str, int], ...]  # (state, number of commitments), in lifecycle order
    late: int


@dataclass(frozen=True, kw_only=True)
class Dashboard:
    agreements: tuple[AgreementBlock, ...]
    # A unit contact's page says whose commitments it shows.
    unit_name: str | None


def dashboard(database: Database, who: Person, now: datetime) -> Dashboard:
    """Every agreement's areas → insatser → commitments the person may see, in plan order."""
    with db.transaction(database) as session:
        lines = _dashboard_lines(session, who, now)
        unit_name = None
        if who.role == "unit":
            unit_name = session.scalar(select(UnitRow.name).where(UnitRow.id == who.unit).limit(1))
    return Dashboard(agreements=tuple(_blocks(lines)), unit_name=unit_name)


# One row of the dashboard's query, before it is grouped: (agreement, area, effort, line).
_Line = tuple[AgreementRow, AreaRow, EffortRow, CommitmentLine]


def _dashboard_lines(session: Session, who: Person, now: datetime) -> list[_Line]:
    agreements = {a.id: a for a in session.scalars(select(AgreementRow).order_by(AgreementRow.id))}
    parties = {(p.agreement_id, p.id): p.name for p in session.scalars(select(PartyRow))}
    stmt = (
        select(Commitment, EffortRow, AreaRow, UnitRow.name)
        .join(EffortRow, and_(EffortRow.agreement_id == Commitment.agreement_id, EffortRow.id == Commitment.effort_id))
        .join(AreaRow, and_(AreaRow.agreement_id == EffortRow.agreement_id, AreaRow.id == EffortRow.area_id))
        .join(UnitRow, and_(UnitRow.agreement_id == Commitment.agreement_id, UnitRow.id == Commitment.responsible))
        .order_by(Commitment.agreement_id, AreaRow.number, EffortRow.position, Commitment.party)
    )
    if who.role == "unit":
        # Person.may_see as a query: a unit contact's page never loads another unit's rows.
        stmt = stmt.where(Commitment.responsible == who.unit)
    out: list[_Line] = []
    for c, effort, area, unit_name in session.execute(stmt):
        a = agreements[c.agreement_id]
        today = today_in(a.timezone, now)
        line = CommitmentLine(
            id=c.id,
            party=c.party,
            party_name=texts.party_label(c.party, parties.get((c.agreement_id, c.party), c.party)),
            responsible_name=unit_name,
            state=c.state,
            period=c.period,
            next_due=c.next_due,
            days_left=(c.next_due - today).days if c.next_due is not None else None,
        )
        out.append((a, area, effort, line))
    return out


def _blocks(lines: list[_Line]) -> list[AgreementBlock]:
    """The query's rows (in plan order) grouped into agreements, areas and insatser."""
    grouped: dict[str, dict[int, dict[str, list[CommitmentLine]]]] = {}
    agreements: dict[str, AgreementRow] = {}
    areas: dict[tuple[str, int], AreaRow] = {}
    efforts: dict[tuple[str, str], EffortRow] = {}
    for a, area, effort, line in lines:
        agreements[a.id] = a
        areas[(a.id, area.number)] = area
        efforts[(a.id, effort.id)] = effort
        grouped.setdefault(a.id, {}).setdefault(area.number, {}).setdefault(effort.id, []).append(line)
    order: dict[str, int] = {s: i for i, s in enumerate(lifecycle.STATES)}
    out = []
    for aid, by_area in grouped.items():
        a = agreements[aid]
        all_lines = [line for by_effort in by_area.values() for ls in by_effort.values() for line in ls]
        counts: dict[str, int] = defaultdict(int)
        for line in all_lines:
            counts[line.state] += 1
        out.append(
            AgreementBlock(
                id=a.id,
                title=a.title,
                signed=a.signed,
                terminates=a.terminates,
                areas=tuple(
                    AreaBlock(
                        number=number,
                        title=areas[(aid, number)].title,
                        efforts=tuple(
                            EffortBlock(
                                id=eid,
                                title=efforts[(aid, eid)].title,
                                timeframe=efforts[(aid, eid)].timeframe_text,
                                commitments=tuple(ls),
                            )
                            for eid, ls in by_effort.items()
                        ),
                    )
                    for number, by_effort in by_area.items()
                ),
                counts=tuple(sorted(counts.items(), key=lambda kv: order[kv[0]])),
                late=sum(line.late for line in all_lines),
            )
        )
    return out
