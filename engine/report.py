"""The yearly report: the åtagandeplan as the agreement lays it out, with its follow-ups.

``build_report`` reads one agreement and the follow-ups recorded for one period into
frozen values; ``render_report`` turns them into HTML, Markdown or CSV. Nothing here
writes to the database or reads the clock.

The plan's table (per samverkansområde: Insats/mål | Kommunens åtagande | Polisens
åtagande | Tidsplan | Aktivitetsmått | Uppföljning) is kept, and its empty
"Uppföljning" column is filled from the latest version of each commitment's
follow-up for the period. A commitment without one is named as missing, unless no
follow-up is expected of it for the period (before the first follow-up period,
outside its timeframe, or ended before the report was due). A count below its
target is a deviation.

The HTML has, besides the tables, a bar chart per count measure over the years and
an årshjul: the deadlines of the year in which the period's follow-up is due, on a
circle. Both are plain SVG computed here (``year_angle``, ``polar``, ``nice_scale``),
so the file is self-contained and prints to PDF as it looks on screen.
"""

from __future__ import annotations

import calendar as _cal
import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from importlib.resources import files
from typing import Any, Literal
from zoneinfo import ZoneInfo

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import AgreementRow, AreaRow, Commitment, EffortRow, FollowUp, PartyRow, UnitRow
from rules import lifecycle, texts
from rules.calendar import SwedishCalendar
from rules.errors import InvalidValue
from rules.model import Schedule
from rules.revision import deadline, kickoff_day
from rules.texts import datum, tal

Format = Literal["html", "md", "csv"]
FORMATS: tuple[Format, ...] = ("html", "md", "csv")

# State → CSS class and colour (planerad blå, pågående orange, uppföljd grön, reviderad lila, avslutad grå).
STATE_CLASS: dict[str, str] = {
    lifecycle.PLANERAD: "planerad",
    lifecycle.PAGAENDE: "pagaende",
    lifecycle.UPPFOLJD: "uppfoljd",
    lifecycle.REVIDERAD: "reviderad",
    lifecycle.AVSLUTAD: "avslutad",
}
STATE_COLOUR: dict[str, str] = {
    lifecycle.PLANERAD: "#2563eb",
    lifecycle.PAGAENDE: "#d97706",
    lifecycle.UPPFOLJD: "#15803d",
    lifecycle.REVIDERAD: "#7e22ce",
    lifecycle.AVSLUTAD: "#6b7280",
}
PARTY_COLOURS = ("#0e7490", "#1e3a8a", "#9d174d", "#3f6212", "#92400e")



# -- values ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PartyInfo:
    id: str
    name: str
    heading: str  # "Kommunens åtagande"
    label: str  # "Kommunen"
    colour: str


@dataclass(frozen=True, kw_only=True)
class Measure:
    id: str
    text: str
    kind: str  # count | text
    target: float | None
    parties: tuple[str, ...]  # empty: every party of the insats
    only: str = ""  # "endast polisen" when the measure is one party's

    def applies_to(self, party: str) -> bool:
        return not self.parties or party in self.parties

    @property
    def target_text(self) -> str:
        return f"mål: minst {tal(self.target)}" if self.target is not None else ""


@dataclass(frozen=True, kw_only=True)
class Value:
    """One recorded value of a follow-up, against its measure."""

    measure_id: str
    text: str
    value: str  # as a person reads it
    kind: str
    target: float | None
    deviation: bool

    @property
    def label(self) -> str:
        """The measure's text without a final full stop, to stand before a colon."""
        return self.text.rstrip(" .")

    @property
    def line(self) -> str:
        return f"{self.label}: {self.value}"


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One commitment: its text in the plan and its follow-up for the period."""

    id: str
    party: str
    party_label: str
    text: str
    responsible: str
    responsible_name: str
    state: str
    state_class: str
    state_since: date
    followed_up: bool
    values: tuple[Value, ...]
    comment: str
    by: str
    recorded: date | None
    version: int
    hours: float | None
    expected: bool
    not_expected_why: str
    missing_text: str

    @property
    def missing(self) -> bool:
        return self.expected and not self.followed_up

    @property
    def deviations(self) -> tuple[Value, ...]:
        return tuple(v for v in self.values if v.deviation)


@dataclass(frozen=True, kw_only=True)
class EffortReport:
    id: str
    title: str
    timeframe: str
    measures: tuple[Measure, ...]
    cells: tuple[Cell, ...]  # in the order of the agreement's parties
    by_party: dict[str, Cell]

    @property
    def deviation(self) -> bool:
        return any(c.deviations for c in self.cells)


@dataclass(frozen=True, kw_only=True)
class AreaReport:
    number: int
    title: str
    efforts: tuple[EffortReport, ...]


@dataclass(frozen=True, kw_only=True)
class Missing:
    commitment: str
    effort: str
    party_label: str
    unit: str


@dataclass(frozen=True, kw_only=True)
class Deviation:
    commitment: str
    effort: str
    party_label: str
    measure: str
    value: str
    target: str


@dataclass(frozen=True, kw_only=True)
class StateCount:
    state: str
    state_class: str
    count: int


@dataclass(frozen=True, kw_only=True)
class Summary:
    states: tuple[StateCount, ...]
    commitments: int
    followed_up: int
    expected: int
    deviations: tuple[Deviation, ...]
    missing: tuple[Missing, ...]


# -- charts ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str  # the value, printed above the bar
    title: str  # tooltip: "Kommunen 2016: 1"
    below_target: bool


@dataclass(frozen=True, kw_only=True)
class AxisTick:
    x: float
    y: float
    label: str


@dataclass(frozen=True, kw_only=True)
class Chart:
    effort: str
    measure: str
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    bars: tuple[Bar, ...]
    y_ticks: tuple[AxisTick, ...]
    x_ticks: tuple[AxisTick, ...]
    target_y: float | None
    target_label: str
    legend: tuple[PartyInfo, ...]


# -- årshjul --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class WheelMonth:
    name: str
    path: str  # SVG path of the ring sector
    label_x: float
    label_y: float
    shade: bool


@dataclass(frozen=True, kw_only=True)
class WheelEvent:
    number: int
    day: date
    kind: str
    label: str
    colour: str
    x: float  # the numbered dot
    y: float
    x1: float  # the tick across the month ring
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True, kw_only=True)
class Wheel:
    year: int
    size: int
    cx: float
    cy: float
    ring_outer: float
    ring_inner: float
    months: tuple[WheelMonth, ...]
    events: tuple[WheelEvent, ...]
    kinds: tuple[tuple[str, str], ...]  # legend: (kind name, colour), in order of appearance


@dataclass(frozen=True, kw_only=True)
class Report:
    agreement_id: str
    title: str
    signed: date
    process_owner: str
    process_owner_email: str
    parties: tuple[PartyInfo, ...]
    period: int
    due: date
    areas: tuple[AreaReport, ...]
    summary: Summary
    charts: tuple[Chart, ...]
    no_data: tuple[str, ...]  # count measures without any recorded value ("inga uppgifter ännu")
    wheel: Wheel
    latest_recorded: date | None


# -- geometry, pure and tested --------------------------------------------------------------


def year_angle(d: date) -> float:
    """Where ``d`` lies on the year's circle, in degrees clockwise from the top (1 January = 0)."""
    days = 366 if _cal.isleap(d.year) else 365
    return 360.0 * (d.timetuple().tm_yday - 1) / days


def polar(cx: float, cy: float, r: float, degrees: float) -> tuple[float, float]:
    """The SVG point at ``degrees`` clockwise from the top, ``r`` from the centre (y grows down)."""
    a = math.radians(degrees)
    return round(cx + r * math.sin(a), 2), round(cy - r * math.cos(a), 2)


def ring_sector(cx: float, cy: float, r_outer: float, r_inner: float, start: float, end: float) -> str:
    """An SVG path for the part of a ring between two angles (clockwise, degrees)."""
    large = 1 if end - start > 180 else 0
    ox1, oy1 = polar(cx, cy, r_outer, start)
    ox2, oy2 = polar(cx, cy, r_outer, end)
    ix2, iy2 = polar(cx, cy, r_inner, end)
    ix1, iy1 = polar(cx, cy, r_inner, start)
    return (
        f"M {ox1} {oy1} A {r_outer} {r_outer} 0 {large} 1 {ox2} {oy2} "
        f"L {ix2} {iy2} A {r_inner} {r_inner} 0 {large} 0 {ix1} {iy1} Z"
    )


def nice_scale(max_value: float, *, max_ticks: int = 5, integer: bool = True) -> tuple[float, float]:
    """The top of a value axis and its tick step: a 1–2–5 step, at most ``max_ticks`` steps.

    ``nice_scale(7) == (8, 2)``, ``nice_scale(2) == (2, 1)``, ``nice_scale(0) == (1, 1)``.
    With ``integer`` (counts) the step is never below 1.
    """
    if max_value <= 0:
        return 1.0, 1.0
    raw = max_value / max_ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw - 1e-12)
    if integer:
        step = max(step, 1.0)
    top = math.ceil(max_value / step - 1e-9) * step
    return float(top), float(step)


def scale_y(value: float, top_value: float, plot_top: float, plot_bottom: float) -> float:
    """The SVG y of ``value`` on an axis from 0 (``plot_bottom``) to ``top_value`` (``plot_top``)."""
    return round(plot_bottom - (value / top_value) * (plot_bottom - plot_top), 2)


# -- building -------------------------------------------------------------------------------


def _agreement(session: Session, agreement_id: str | None) -> AgreementRow:
    if agreement_id is not None:
        found = session.get(AgreementRow, agreement_id)
        if found is None:
            known = ", ".join(sorted(session.scalars(select(AgreementRow.id)))) or "inga"
            raise InvalidValue("agreement", f"okänd överenskommelse '{agreement_id}' (finns: {known})")
        return found
    rows = list(session.scalars(select(AgreementRow).order_by(AgreementRow.id)))
    if len(rows) != 1:
        names = ", ".join(a.id for a in rows) or "inga"
        raise InvalidValue("agreement", f"ange vilken överenskommelse rapporten gäller (finns: {names})")
    return rows[0]


def _party_infos(agreement: AgreementRow, rows: Sequence[PartyRow]) -> tuple[PartyInfo, ...]:
    order = [p["id"] for p in agreement.document.get("parties", [])]
    ranked = sorted(rows, key=lambda p: (order.index(p.id) if p.id in order else len(order), p.id))
    out = []
    for i, p in enumerate(ranked):
        heading, label = texts.party_heading(p.id, p.name), texts.party_label(p.id, p.name)
        out.append(PartyInfo(id=p.id, name=p.name, heading=heading, label=label, colour=PARTY_COLOURS[i % 5]))
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


def _below(value: Any, target: float | None) -> bool:
    return target is not None and isinstance(value, int | float) and not isinstance(value, bool) and value < target


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
                deviation=_below(v, m.target),
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
        state_class=STATE_CLASS.get(c.state, "avslutad"),
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
        states=tuple(
            StateCount(state=state, state_class=STATE_CLASS.get(state, "avslutad"), count=n)
            for state, n in counts.items()
        ),
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
    agreement = _agreement(session, agreement_id)
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
    )


# -- charts ---------------------------------------------------------------------------------

CHART_W, CHART_H = 360, 220
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 44.0, 350.0, 18.0, 174.0


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


def build_chart(
    *,
    effort: str,
    measure: Measure,
    series: dict[str, dict[int, float]],
    parties: Sequence[PartyInfo],
) -> Chart:
    """A grouped bar chart: one group per year, one bar per party, the target dashed."""
    shown = [p for p in parties if p.id in series]
    years = sorted({y for s in series.values() for y in s})
    span = list(range(years[0], years[-1] + 1))
    top_value, step = nice_scale(max([v for s in series.values() for v in s.values()] + [measure.target or 0]))
    group = (PLOT_RIGHT - PLOT_LEFT) / len(span)
    bar_w = min(34.0, group * 0.72 / max(1, len(shown)))
    bars = []
    for gi, year in enumerate(span):
        x0 = PLOT_LEFT + gi * group + (group - bar_w * len(shown)) / 2
        for pi, p in enumerate(shown):
            if year not in series[p.id]:
                continue
            v = series[p.id][year]
            y = scale_y(v, top_value, PLOT_TOP, PLOT_BOTTOM)
            bars.append(
                Bar(
                    x=round(x0 + pi * bar_w, 2),
                    y=y,
                    width=round(bar_w - 2, 2),
                    height=round(PLOT_BOTTOM - y, 2),
                    colour=p.colour,
                    label=tal(v),
                    title=f"{p.label} {year}: {tal(v)}",
                    below_target=_below(v, measure.target),
                )
            )
    y_ticks = []
    n = round(top_value / step)
    for i in range(n + 1):
        v = i * step
        y_ticks.append(AxisTick(x=PLOT_LEFT - 6, y=scale_y(v, top_value, PLOT_TOP, PLOT_BOTTOM), label=tal(v)))
    x_ticks = tuple(
        AxisTick(x=round(PLOT_LEFT + (gi + 0.5) * group, 2), y=PLOT_BOTTOM + 15, label=str(y))
        for gi, y in enumerate(span)
    )
    target_y = scale_y(measure.target, top_value, PLOT_TOP, PLOT_BOTTOM) if measure.target is not None else None
    return Chart(
        effort=effort,
        measure=measure.text,
        width=CHART_W,
        height=CHART_H,
        left=PLOT_LEFT,
        right=PLOT_RIGHT,
        top=PLOT_TOP,
        bottom=PLOT_BOTTOM,
        bars=tuple(bars),
        y_ticks=tuple(y_ticks),
        x_ticks=x_ticks,
        target_y=target_y,
        target_label=f"mål {tal(measure.target)}" if measure.target is not None else "",
        legend=tuple(shown),
    )


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


# -- årshjul --------------------------------------------------------------------------------

WHEEL_SIZE = 560
RING_OUTER, RING_INNER = 226.0, 192.0  # the band of months
LABEL_R = 252.0  # month names, outside the band, so that no marker crosses them
LANES = (170.0, 144.0, 118.0, 92.0)  # radii for the numbered dots, outermost first
DOT_R = 10.0

KIND_COLOUR = {
    "Påminnelse": "#d97706",
    "Sista dag för uppföljning": "#dc2626",
    "Eskalering till processägaren": "#7e22ce",
    "Revidering: startbesked": "#0d9488",
    "Revidering ska vara klar": "#1d4ed8",
    "Uppsägning träder i kraft": "#374151",
}


def _reminder_label(offset: int) -> str:
    if offset == 0:
        return "påminnelse på sista dagen"
    days = -offset
    return f"påminnelse {texts.days(days)} före sista dagen"


def _revision_dues(agreement: AgreementRow, every: int, until: int, cal: SwedishCalendar) -> list[date]:
    """Every revision deadline (rules.revision.deadline) up to year ``until``, from the signing date."""
    out: list[date] = []
    n = 1
    while (d := deadline(agreement.signed, every, n, agreement.valid_to, cal)) is not None and d.year <= until:
        out.append(d)
        n += 1
    return out


def wheel_events(
    agreement: AgreementRow, schedule: Schedule, period: int, cal: SwedishCalendar
) -> list[tuple[date, str, str]]:
    """The deadlines of year ``period + 1`` as (day, kind, label), in date order."""
    year = period + 1
    due = cal.follow_up_due(period, schedule.due_md)
    events: list[tuple[date, str, str]] = [
        (cal.reminder_day(due, off), "Påminnelse", _reminder_label(off)) for off in schedule.reminder_offsets
    ]
    events.append((due, "Sista dag för uppföljning", f"sista dag för uppföljningen av {period}"))
    escalation = cal.next_working_day(due + timedelta(days=schedule.escalation_after_days))
    events.append(
        (escalation, "Eskalering till processägaren", f"eskalering om uppföljningen av {period} fortfarande saknas")
    )
    for working in _revision_dues(agreement, schedule.revision_every_years, year + 1, cal):
        kickoff = kickoff_day(working, schedule, cal)
        events.append(
            (kickoff, "Revidering: startbesked", "startbesked för revideringen till parterna och processägaren")
        )
        events.append((working, "Revidering ska vara klar", "revideringen av åtagandeplanen ska vara klar"))
    if agreement.terminates is not None:
        events.append((agreement.terminates, "Uppsägning träder i kraft", "uppsägningen träder i kraft"))
        events = [e for e in events if e[0] <= agreement.terminates]
    events = [e for e in events if e[0].year == year]
    return sorted(set(events), key=lambda e: (e[0], list(KIND_COLOUR).index(e[1])))


def place_in_lanes(angles: Sequence[float], lanes: Sequence[float] = LANES, gap: float = 2 * DOT_R + 2) -> list[float]:
    """A radius for each dot (angles in date order) so that no two dots overlap: each dot
    goes to the outermost lane whose previous dot is at least ``gap`` away along the arc."""
    last: dict[float, float] = {}
    out = []
    for a in angles:
        chosen = lanes[-1]
        for r in lanes:
            prev = last.get(r)
            if prev is None or math.radians(a - prev) * r >= gap:
                chosen = r
                break
        last[chosen] = a
        out.append(chosen)
    return out


def build_wheel(agreement: AgreementRow, schedule: Schedule, period: int, cal: SwedishCalendar) -> Wheel:
    year = period + 1
    c = WHEEL_SIZE / 2
    months = []
    for m in range(12):
        start = year_angle(date(year, m + 1, 1))
        end = 360.0 if m == 11 else year_angle(date(year, m + 2, 1))
        lx, ly = polar(c, c, LABEL_R, (start + end) / 2)
        months.append(
            WheelMonth(
                name=texts.MONTH_ABBR[m],
                path=ring_sector(c, c, RING_OUTER, RING_INNER, start, end),
                label_x=lx,
                label_y=ly,
                shade=m % 2 == 0,
            )
        )
    raw = wheel_events(agreement, schedule, period, cal)
    angles = [year_angle(d) for d, _, _ in raw]
    radii = place_in_lanes(angles)
    events = []
    for i, ((day, kind, label), a, r) in enumerate(zip(raw, angles, radii, strict=True), start=1):
        x, y = polar(c, c, r, a)
        x1, y1 = polar(c, c, r + DOT_R, a)
        x2, y2 = polar(c, c, RING_OUTER, a)
        events.append(
            WheelEvent(
                number=i,
                day=day,
                kind=kind,
                label=label,
                colour=KIND_COLOUR[kind],
                x=x,
                y=y,
                x1=x1,
                y1=y1,
                x2=x2,
                y2=y2,
            )
        )
    kinds = tuple(dict.fromkeys((e.kind, e.colour) for e in events))
    return Wheel(
        year=year,
        size=WHEEL_SIZE,
        cx=c,
        cy=c,
        ring_outer=RING_OUTER,
        ring_inner=RING_INNER,
        months=tuple(months),
        events=tuple(events),
        kinds=kinds,
    )


# -- rendering ------------------------------------------------------------------------------


def _template(name: str) -> tuple[str, str | None, Any] | None:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    resource = files("engine") / "templates" / name
    if not resource.is_file():
        return None
    return resource.read_text(encoding="utf-8"), str(resource), lambda: True


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update({"datum": datum, "tal": tal})
    return env


def render_html(report: Report) -> str:
    colours = [(STATE_CLASS[s], STATE_COLOUR[s]) for s in lifecycle.STATES]
    return _environment().get_template("report.html").render(r=report, state_colours=colours)


def _md_cell(text: str) -> str:
    """Text safe inside a GFM table cell: no raw HTML, pipes escaped, lines joined with <br>."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    lines = [" ".join(line.split()) for line in text.replace("\r", "").split("\n")]
    return "<br>".join(x for x in lines if x).replace("|", "\\|")


def _follow_up_text(cell: Cell, *, markdown: bool) -> str:
    head = f"**{cell.party_label}**" if markdown else cell.party_label
    head += f" ({cell.state})"
    if not cell.followed_up:
        return f"{head}: {cell.missing_text}"
    lines = [f"{head}:"]
    for v in cell.values:
        mark = f" ⚠ under målet (mål: minst {tal(v.target)})" if v.deviation else ""
        lines.append(f"{v.line}{mark}")
    if cell.comment:
        lines.append(f"Kommentar: {cell.comment}")
    when = datum(cell.recorded) if cell.recorded else ""
    lines.append(f"– {cell.by}, {when}" + (f" (version {cell.version})" if cell.version > 1 else ""))
    return "\n".join(lines)


def render_markdown(r: Report) -> str:
    s = r.summary
    out = [
        f"# {r.title}",
        "",
        f"**Årsrapport för {r.period}** – uppföljningen av {r.period} skulle vara inne {datum(r.due)}.",
        "",
        "Parter: " + "; ".join(p.name for p in r.parties) + f". Processägare: {r.process_owner}.",
        "",
        "## Sammanfattning",
        "",
        f"- Åtaganden: {s.commitments} (" + ", ".join(f"{sc.state} {sc.count}" for sc in s.states if sc.count) + ")",
        f"- Uppföljda för {r.period}: {s.followed_up} av {s.expected} väntade",
        f"- Avvikelser (under målet): {len(s.deviations)}",
        f"- Saknade uppföljningar: {len(s.missing)}",
    ]
    for d in s.deviations:
        out.append(f"  - ⚠ {d.effort} – {d.party_label}: {d.measure.rstrip(' .')}: {d.value} (mål: minst {d.target})")
    for area in r.areas:
        headings = [p.heading for p in r.parties]
        out += ["", f"## {area.number}. {area.title}", ""]
        cols = ["Insats/mål", *headings, "Tidsplan", "Aktivitetsmått", "Uppföljning"]
        out.append("| " + " | ".join(cols) + " |")
        out.append("|" + "|".join(" --- " for _ in cols) + "|")
        for e in area.efforts:
            row = [e.title]
            for p in r.parties:
                cell = e.by_party.get(p.id)
                row.append(f"{cell.text}\n*{cell.responsible_name} · {cell.state}*" if cell else "–")
            row.append(e.timeframe)
            row.append(
                "\n".join(
                    m.text + (f" ({m.target_text})" if m.target_text else "") + (f" ({m.only})" if m.only else "")
                    for m in e.measures
                )
                or "–"
            )
            row.append("\n".join(_follow_up_text(c, markdown=True) for c in e.cells))
            out.append("| " + " | ".join(_md_cell(x) for x in row) + " |")
    out += ["", f"## Saknade uppföljningar för {r.period}", ""]
    if s.missing:
        out += [f"- {m.effort} – {m.party_label}: {m.unit} (`{m.commitment}`)" for m in s.missing]
    else:
        out.append("Inga: alla väntade uppföljningar är registrerade.")
    return "\n".join(out) + "\n"


CSV_COLUMNS = (
    "area_number",
    "area",
    "effort",
    "party",
    "responsible",
    "state",
    "period",
    "followed_up",
    "values",
    "comment",
    "deviation",
    "missing",
)


def render_csv(r: Report) -> str:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for area in r.areas:
        for e in area.efforts:
            for c in e.cells:
                w.writerow(
                    [
                        area.number,
                        area.title,
                        e.title,
                        c.party,
                        c.responsible_name,
                        c.state,
                        r.period,
                        "ja" if c.followed_up else "nej",
                        "; ".join(v.line for v in c.values),
                        c.comment,
                        "ja" if c.deviations else "nej",
                        "ja" if c.missing else "nej",
                    ]
                )
    return buf.getvalue()


def render_report(report: Report, fmt: Format) -> str:
    """The report as HTML (self-contained, prints to A4), GitHub Markdown or CSV (UTF-8 text)."""
    if fmt == "html":
        return render_html(report)
    if fmt == "md":
        return render_markdown(report)
    if fmt == "csv":
        return render_csv(report)
    raise InvalidValue("format", f"okänt format '{fmt}' (giltiga: {', '.join(FORMATS)})")
