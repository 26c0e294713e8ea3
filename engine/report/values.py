"""The yearly report as frozen values: what ``build_report`` reads and every format shows.

Nothing here knows HTML, Markdown or CSV (notifications.report renders them); the
texts a person reads (labels, "endast polisen", "mål: minst 2") are made here once,
so that every format says the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from rules import analysis, deviation
from rules.texts import datum, tal


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
        return deviation.applies_to(self.parties, party)

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
    count: int


@dataclass(frozen=True, kw_only=True)
class Summary:
    states: tuple[StateCount, ...]
    commitments: int
    followed_up: int
    expected: int
    deviations: tuple[Deviation, ...]
    missing: tuple[Missing, ...]


# -- charts (engine.report.charts) --------------------------------------------------------


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


# -- årshjul (engine.report.wheel) --------------------------------------------------------


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
class Analysis:
    """One version of the process owner's analysis and conclusions for a period (engine.analysis)."""

    period: int
    version: int
    text: str  # plain text: a blank line parts paragraphs (rules.analysis)
    by: str
    written_at: datetime
    written: date  # the day, in the agreement's time zone

    @property
    def paragraphs(self) -> tuple[tuple[str, ...], ...]:
        """Each paragraph as its lines; every format escapes them its own way."""
        return analysis.paragraphs(self.text)

    @property
    def changed_line(self) -> str:
        return f"Senast ändrad {datum(self.written)} av {self.by}"


ANALYSIS_HEADING = "Analys och slutsatser"


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
    # The process owner's analysis of the period, its latest version; None until one is written.
    analysis: Analysis | None = None

    @property
    def no_analysis_text(self) -> str:
        return f"Processägarens analys och slutsatser för {self.period} är inte skrivna ännu."
