"""The yearly report's read model: the åtagandeplan as the agreement lays it out, with its follow-ups.

``build_report`` reads one agreement and the follow-ups recorded for one period into
frozen values (engine.report.values); notifications.report renders them as HTML,
Markdown or CSV. Nothing here writes to the database or reads the clock.

The plan's table (per samverkansområde: Insats/mål | Kommunens åtagande | Polisens
åtagande | Tidsplan | Aktivitetsmått | Uppföljning) is kept, and its empty
"Uppföljning" column is filled from the latest version of each commitment's
follow-up for the period. A commitment without one is named as missing, unless no
follow-up is expected of it for the period (before the first follow-up period,
outside its timeframe, or ended before the report was due). A count below its
target is a deviation (rules.deviation.falls_short, the rule behind the notice).

Besides the tables the report has a bar chart per count measure over the years
(engine.report.charts), an årshjul of the year in which the period's follow-up
is due (engine.report.wheel) and the process owner's analysis and conclusions of the
period, its latest version (engine.report.analysis).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import AgreementRow, AreaRow, Commitment, EffortRow, FollowUp, PartyRow, UnitRow
from engine.report import analysis
from engine.report.charts import build_chart
from engine.report.values import (
    AreaReport,
    Cell,
    Chart,
    Deviation,
    EffortReport,
    Measure,
    Missing,
    PartyInfo,
    Report,
    StateCount,
    Summary,
    Value,
)
from engine.report.wheel import build_wheel
from engine.service import agreement_for
from rules import deviation, lifecycle, texts
from rules.calendar import SwedishCalendar
from rules.model import Schedule
from rules.texts import datum, tal

# A party keeps its colour in every chart: the n-th party of the agreement gets the n-th.
PARTY_COLOURS = ("#0e7490", "#1e3a8a", "#9d174d", "#3f6212", "#92400e")


def _party_infos(agreement: AgreementRow, rows: Sequence[PartyRow]) -> tuple[PartyInfo, ...]:
    order = [p["id"] for p in agreement.document.get("parties", [])]
    ranked = sorted(rows, key=lambda p: (order.index(p.id) if p.id in order else len(order), p.id))
    out = []
    for i, p in enumerate(ranked):
        heading, label = texts.party_heading(p.id, p.name), texts.party_label(p.id, p.name)
        colour = PARTY_COLOURS[i % len(PARTY_COLOURS)]
        out.append(PartyInfo(id=p.id, name=p.name, heading=heading, label=label, colour=colour))
    return tuple(out)


def _measures(effort: EffortRow, labels: dict[str, str] | None = None) -> tuple[Measure, ...]:
    labels = labels or {}
    out = []
    for m in effort.measures:
        parties = tuple(m.get("parties") or ())
        only = ", ".join(labels.get(p, p).lower() for p in parties)
        out.append(
            Measure(
                id=m["id"],
                text=m["text"],
                kind=m.get("kind", "count"),
                target=m.get("target"),
                parties=parties,
                only=f"endast {only}" if only else "",
            )
        )
    return tuple(out)


def _show(value: Any) -> str:
    return tal(value) if not isinstance(value, str) else value.strip()


def _values(measures: Sequence[Measure], party: str, recorded: dict[str, Any]) -> tuple[Value, ...]:
    out = []
    known = set()
    for m in measures:
        if not m.applies_to(party) or m.id not in recorded:
            continue
        known.add(m.id)
        v = recorded[m.id]
        out.append(
            Value(
                measure_id=m.id,
                text=m.text,
                value=_show(v),
                kind=m.kind,
                target=m.target,
                deviation=deviation.falls_short(v, m.target),
            )
        )
    # A value for a measure the plan no longer has is still shown, under its id.
    for mid in sorted(set(recorded) - known):
        v = recorded[mid]
        kind = "text" if isinstance(v, str) else "count"
        out.append(Value(measure_id=mid, text=mid, value=_show(v), kind=kind, target=None, deviation=False))
    return tuple(out)


def _latest_follow_ups(session: Session, agreement_id: str) -> dict[tuple[str, int], FollowUp]:
    """The latest version of every follow-up of the agreement, by (commitment, period)."""
    stmt = (
        select(FollowUp)
        .join(Commitment, Commitment.id == FollowUp.commitment_id)
        .where(Commitment.agreement_id == agreement_id)
        .order_by(FollowUp.commitment_id, FollowUp.period, FollowUp.version)
    )
    return {(f.commitment_id, f.period): f for f in session.scalars(stmt)}


def _not_expected(
    *,
    period: int,
    first_period: int | None,
    effort: EffortRow,
    commitment: Commitment,
    agreement: AgreementRow,
    due: date,
    zone: ZoneInfo,
) -> str:
    """Why no follow-up for ``period`` is expected of this commitment ("" when one is)."""
    if first_period is not None and period < first_period:
        return f"före den första uppföljningsperioden {first_period}"
    start = max(effort.starts, agreement.valid_from)
    if start.year > period:
        return f"tidsplanen börjar {datum(start)}"
    end = min((d for d in (effort.ends, agreement.valid_to) if d is not None), default=None)
    if end is not None and end.year < period:
        return f"tidsplanen slutade {datum(end)}"
    if agreement.terminates is not None and agreement.terminates.year <= period:
        return f"överenskommelsen uppsagd från {datum(agreement.terminates)}"
    ended = commitment.state_since.astimezone(zone).date()
    if commitment.state == lifecycle.AVSLUTAD and ended < due:
        return f"avslutat {datum(ended)}"
    return ""


@dataclass(frozen=True, kw_only=True)
class _Context:
    """What building the cells of one report needs, read once."""

    agreement: AgreementRow
    period: int
    due: date
    first_period: int | None
    zone: ZoneInfo
    parties: dict[str, PartyInfo]
    units: dict[str, UnitRow]
    follow_ups: dict[tuple[str, int], FollowUp]


def _cell(ctx: _Context, effort: EffortRow, measures: Sequence[Measure], c: Commitment) -> Cell:
    f = ctx.follow_ups.get((c.id, ctx.period))
    why = _not_expected(
        period=ctx.period,
        first_period=ctx.first_period,
        effort=effort,
        commitment=c,
        agreement=ctx.agreement,
        due=ctx.due,
        zone=ctx.zone,
    )
    unit = ctx.units.get(c.responsible)
    info = ctx.parties.get(c.party)
    missing = f"Uppföljning för {ctx.period} saknas" + (f" (ingen väntas: {why})" if why else "")
    return Cell(
        id=c.id,
        party=c.party,
        party_label=info.label if info else c.party,
        text=c.text,
        responsible=c.responsible,
        responsible_name=unit.name if unit else c.responsible,
        state=c.state,
        state_since=c.state_since.astimezone(ctx.zone).date(),
        followed_up=f is not None,
        values=_values(measures, c.party, f.values) if f else (),
        comment=f.comment if f else "",
        by=f.by if f else "",
        recorded=f.recorded_at.astimezone(ctx.zone).date() if f else None,
        version=f.version if f else 0,
        hours=f.hours if f else None,
        expected=not why,
        not_expected_why=why,
        missing_text=missing,
    )


def _summary(areas: Sequence[AreaReport]) -> Summary:
    pairs = [(e, cell) for a in areas for e in a.efforts for cell in e.cells]
    counts: dict[str, int] = dict.fromkeys(lifecycle.STATES, 0)
    for _, cell in pairs:
        counts[cell.state] = counts.get(cell.state, 0) + 1
    return Summary(
        states=tuple(StateCount(state=state, count=n) for state, n in counts.items()),
        commitments=len(pairs),
        followed_up=sum(1 for _, cell in pairs if cell.followed_up),
        expected=sum(1 for _, cell in pairs if cell.expected or cell.followed_up),
        deviations=tuple(
            Deviation(
                commitment=cell.id,
                effort=e.title,
                party_label=cell.party_label,
                measure=v.text,
                value=v.value,
                target=tal(v.target),
            )
            for e, cell in pairs
            for v in cell.deviations
        ),
        missing=tuple(
            Missing(commitment=cell.id, effort=e.title, party_label=cell.party_label, unit=cell.responsible_name)
            for e, cell in pairs
            if cell.missing
        ),
    )


def build_report(session: Session, *, period: int, agreement_id: str | None = None) -> Report:
    """Everything the yearly report for ``period`` shows, read from the database."""
    agreement = agreement_for(session, agreement_id, lock=False)
    aid = agreement.id
    zone = ZoneInfo(agreement.timezone)
    schedule = Schedule.from_settings(agreement.timezone, agreement.schedule)
    cal = SwedishCalendar()
    due = cal.follow_up_due(period, schedule.due_md)

    parties = _party_infos(agreement, list(session.scalars(select(PartyRow).where(PartyRow.agreement_id == aid))))
    rank = {p.id: i for i, p in enumerate(parties)}
    labels = {p.id: p.label for p in parties}
    units = {u.id: u for u in session.scalars(select(UnitRow).where(UnitRow.agreement_id == aid))}
    owner = units.get(agreement.process_owner)
    areas = list(session.scalars(select(AreaRow).where(AreaRow.agreement_id == aid).order_by(AreaRow.number)))
    efforts = list(session.scalars(select(EffortRow).where(EffortRow.agreement_id == aid).order_by(EffortRow.position)))
    commitments: dict[str, list[Commitment]] = defaultdict(list)
    for c in session.scalars(select(Commitment).where(Commitment.agreement_id == aid)):
        commitments[c.effort_id].append(c)
    follow_ups = _latest_follow_ups(session, aid)
    ctx = _Context(
        agreement=agreement,
        period=period,
        due=due,
        first_period=agreement.schedule.get("follow_up", {}).get("first_period"),
        zone=zone,
        parties={p.id: p for p in parties},
        units=units,
        follow_ups=follow_ups,
    )

    area_reports = []
    for area in areas:
        effort_reports = []
        for effort in (e for e in efforts if e.area_id == area.id):
            measures = _measures(effort, labels)
            ordered = sorted(commitments.get(effort.id, []), key=lambda c: (rank.get(c.party, len(rank)), c.party))
            cells = tuple(_cell(ctx, effort, measures, c) for c in ordered)
            if cells:
                effort_reports.append(
                    EffortReport(
                        id=effort.id,
                        title=effort.title,
                        timeframe=effort.timeframe_text,
                        measures=measures,
                        cells=cells,
                        by_party={cell.party: cell for cell in cells},
                    )
                )
        area_reports.append(AreaReport(number=area.number, title=area.title, efforts=tuple(effort_reports)))

    recorded = [f.recorded_at for f in follow_ups.values() if f.period == period]
    return Report(
        agreement_id=aid,
        title=agreement.title,
        signed=agreement.signed,
        process_owner=owner.name if owner else agreement.process_owner,
        process_owner_email=owner.email if owner else "",
        parties=parties,
        period=period,
        due=due,
        areas=tuple(area_reports),
        summary=_summary(area_reports),
        charts=_charts(area_reports, efforts, commitments, follow_ups, parties),
        no_data=_no_data(efforts, follow_ups, commitments),
        wheel=build_wheel(agreement, schedule, period, cal),
        latest_recorded=max(recorded).astimezone(zone).date() if recorded else None,
        analysis=analysis.latest(session, agreement, period),
    )


# -- the charts' data ---------------------------------------------------------------------


def _series(
    effort: EffortRow,
    measure: Measure,
    commitments: dict[str, list[Commitment]],
    follow_ups: dict[tuple[str, int], FollowUp],
) -> dict[str, dict[int, float]]:
    """party → year → recorded value of one count measure."""
    out: dict[str, dict[int, float]] = defaultdict(dict)
    by_id = {c.id: c for c in commitments.get(effort.id, [])}
    for (cid, year), f in follow_ups.items():
        c = by_id.get(cid)
        if c is None or not measure.applies_to(c.party):
            continue
        v = f.values.get(measure.id)
        if isinstance(v, int | float) and not isinstance(v, bool):
            out[c.party][year] = float(v)
    return out


def _count_measures(efforts: Iterable[EffortRow]) -> Iterable[tuple[EffortRow, Measure]]:
    for effort in efforts:
        for m in _measures(effort):
            if m.kind == "count":
                yield effort, m


def _charts(
    areas: Sequence[AreaReport],
    efforts: Sequence[EffortRow],
    commitments: dict[str, list[Commitment]],
    follow_ups: dict[tuple[str, int], FollowUp],
    parties: Sequence[PartyInfo],
) -> tuple[Chart, ...]:
    shown = {e.id for a in areas for e in a.efforts}
    out = []
    for effort, m in _count_measures(e for e in efforts if e.id in shown):
        series = _series(effort, m, commitments, follow_ups)
        if series:
            out.append(build_chart(effort=effort.title, measure=m, series=series, parties=parties))
    return tuple(out)


def _no_data(
    efforts: Sequence[EffortRow],
    follow_ups: dict[tuple[str, int], FollowUp],
    commitments: dict[str, list[Commitment]],
) -> tuple[str, ...]:
    return tuple(
        f"{effort.title}: {m.text}"
        for effort, m in _count_measures(efforts)
        if commitments.get(effort.id) and not _series(effort, m, commitments, follow_ups)
    )
