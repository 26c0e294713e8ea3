"""The yearly report: the åtagandeplan laid out as in the agreement, its Uppföljning column filled.

The scenario: Borås loaded at the start of 2016, a few commitments started and
followed up for 2016 in March 2017 (MBU kommun below its target of two
utbildningar, SSPF kommun with a text measure), and MBU kommun followed up for
2017 as well, so that its chart has two years.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest
from sqlalchemy import Engine

from engine import db, service
from engine.agreement import Agreement
from engine.models import AgreementRow
from engine.plan import load_plan
from engine.report import (
    Report,
    build_chart,
    build_report,
    nice_scale,
    place_in_lanes,
    polar,
    render_report,
    scale_y,
    wheel_events,
    year_angle,
)
from rules.calendar import SwedishCalendar
from rules.errors import InvalidValue
from rules.model import Schedule
from rules.texts import MONTH_ABBR

MBU_TEXT = "Utbildning två gånger per år: antal genomförda utbildningar"
MBU_COMMENT = "Endast en utbildning hölls"
SSPF_VALUE = "42 enskilda handlingsplaner följdes upp i statistiken"
VOID = {"meta", "br", "col", "link", "img", "hr", "input"}


def at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 9, 0, tzinfo=UTC)


@pytest.fixture
def followed_up(loaded: Engine) -> Engine:
    with db.transaction(loaded) as s:
        for key in ("mbu.kommun", "mbu.polis", "sspf.kommun", "trafik.polis"):
            service.transition(s, key, "start", by="regel", why="tidsplanen börjar", now=at(2016, 1, 5))
    with db.transaction(loaded) as s:
        service.record_follow_up(
            s,
            "mbu.kommun",
            period=2016,
            values={"utbildningar": 1},
            comment=MBU_COMMENT,
            by="Anna",
            now=at(2017, 3, 10),
        )
        service.record_follow_up(
            s, "mbu.polis", period=2016, values={"utbildningar": 2}, comment="Två kurser", by="Per", now=at(2017, 3, 11)
        )
        service.record_follow_up(
            s,
            "sspf.kommun",
            period=2016,
            values={"handlingsplaner": SSPF_VALUE},
            comment="Enligt plan",
            by="Sara",
            now=at(2017, 3, 12),
        )
    with db.transaction(loaded) as s:
        service.transition(s, "mbu.kommun", "new_period", by="regel", why="ny period", now=at(2018, 1, 2))
        service.record_follow_up(
            s,
            "mbu.kommun",
            period=2017,
            values={"utbildningar": 3},
            comment="Tre kurser",
            by="Anna",
            now=at(2018, 3, 1),
        )
    return loaded


def report_for(engine: Engine, period: int = 2016) -> Report:
    with db.transaction(engine) as s:
        return build_report(s, period=period)


class _Checker(HTMLParser):
    """Collects the text and fails on a closing tag that does not match the open one."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> at {self.getpos()} closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Checker:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    return checker


def text_of(html: str) -> str:
    return " ".join(" ".join(parse(html).text).split())


# -- HTML -----------------------------------------------------------------------------------


def test_the_html_is_swedish_self_contained_and_well_formed(followed_up: Engine) -> None:
    html = render_report(report_for(followed_up), "html")
    checker = parse(html)
    assert checker.errors == []
    assert checker.stack == []
    assert '<html lang="sv">' in html
    assert not re.search(r"""(src=|href=["']?https?:|@import|url\()""", html)


def test_the_html_prints_on_a4_landscape_with_colours_and_whole_rows(followed_up: Engine) -> None:
    html = render_report(report_for(followed_up), "html")
    assert "@page { size: A4 landscape;" in html
    assert "print-color-adjust: exact" in html
    assert "break-inside: avoid" in html
    assert html.count('class="charts page"') == 1 and html.count('class="wheel page"') == 1


def test_the_html_shows_every_insats_of_the_plan(followed_up: Engine, boras: Agreement) -> None:
    text = text_of(render_report(report_for(followed_up), "html"))
    titles = [effort.title for _, effort in boras.efforts()]
    assert len(titles) == 15
    for title in titles:
        assert title in text


def test_the_uppfoljning_column_holds_the_recorded_values_comment_and_who(followed_up: Engine) -> None:
    text = text_of(render_report(report_for(followed_up), "html"))
    assert f"{MBU_TEXT}: 1" in text
    assert MBU_COMMENT in text
    assert "Anna, 10 mars 2017" in text
    assert f"Enskilda handlingsplaner följs upp i statistik: {SSPF_VALUE}" in text
    # The 2017 follow-up of the same commitment is not the 2016 report's.
    assert "Tre kurser" not in text


def test_the_mbu_deviation_is_marked(followed_up: Engine) -> None:
    report = report_for(followed_up)
    html = render_report(report, "html")
    assert [(d.commitment, d.value, d.target) for d in report.summary.deviations] == [("boras.mbu.kommun", "1", "2")]
    rows = re.findall(r'<tr class="avvikelse">\s*<th scope="row">([^<]*)</th>', html)
    assert rows == ["MBU – Människan bakom uniformen"]
    assert "⚠ under målet (mål: minst 2)" in html


def test_each_commitment_shows_its_state_with_its_colour(followed_up: Engine) -> None:
    html = render_report(report_for(followed_up), "html")
    assert ".st-uppfoljd { background: #15803d; }" in html
    assert ".st-planerad { background: #2563eb; }" in html
    assert '<span class="state st-uppfoljd">uppföljd</span>' in html
    assert '<span class="state st-pagaende">pågående</span>' in html  # trafik.polis, started, not followed up


def test_missing_follow_ups_are_named_with_their_unit(followed_up: Engine) -> None:
    report = report_for(followed_up)
    missing = {m.commitment: m.unit for m in report.summary.missing}
    assert len(missing) == 27
    assert "boras.mbu.kommun" not in missing
    assert missing["boras.tobakstillsyn.kommun"] == "Brottsförebyggande rådet i Borås (BråB)"
    assert (report.summary.followed_up, report.summary.expected) == (3, 30)
    text = text_of(render_report(report, "html"))
    assert text.count("Uppföljning för 2016 saknas") == 27
    assert "Tobakstillsyn – Kommunen: Brottsförebyggande rådet i Borås (BråB)" in text


def test_the_summary_counts_the_states(followed_up: Engine) -> None:
    counts = {sc.state: sc.count for sc in report_for(followed_up).summary.states}
    # mbu.kommun is uppföljd again (2017), mbu.polis and sspf.kommun uppföljd, trafik.polis pågående.
    assert counts == {"planerad": 26, "pågående": 1, "uppföljd": 3, "reviderad": 0, "avslutad": 0}


def test_the_html_has_a_chart_per_measure_with_data(followed_up: Engine) -> None:
    report = report_for(followed_up)
    html = render_report(report, "html")
    assert [(c.effort, c.measure) for c in report.charts] == [("MBU – Människan bakom uniformen", MBU_TEXT)]
    mbu = report.charts[0]
    assert [b.title for b in mbu.bars] == ["Kommunen 2016: 1", "Polisen 2016: 2", "Kommunen 2017: 3"]
    assert [b.below_target for b in mbu.bars] == [True, False, False]
    assert mbu.target_y == scale_y(2, 3, mbu.top, mbu.bottom)
    assert 'stroke-dasharray="6 4"' in html
    assert ">Antal</text>" in html and ">År (uppföljningsperiod)</text>" in html
    assert "Trafik: Antal åtgärdande insatser" in " ".join(report.no_data)
    assert html.count("<svg") == 2  # the chart and the årshjul


def test_the_arshjul_shows_twelve_months_and_the_years_deadlines(followed_up: Engine) -> None:
    report = report_for(followed_up)
    html = render_report(report, "html")
    wheel = html[html.index('<svg class="wheel-svg"') : html.index("</svg>", html.index('<svg class="wheel-svg"'))]
    for month in MONTH_ABBR:
        assert f">{month}</text>" in wheel
    assert len(MONTH_ABBR) == 12 and len(report.wheel.months) == 12
    assert report.wheel.year == 2017
    assert [(e.day, e.kind) for e in report.wheel.events] == [
        (date(2017, 3, 1), "Påminnelse"),
        (date(2017, 3, 24), "Påminnelse"),
        (date(2017, 3, 31), "Påminnelse"),
        (date(2017, 3, 31), "Sista dag för uppföljning"),
        # 14 days after the due date is långfredagen; annandag påsk follows: the next working day.
        (date(2017, 4, 18), "Eskalering till processägaren"),
    ]
    text = text_of(html)
    assert "31 mars 2017 – sista dag för uppföljningen av 2016" in text


# -- CSV and Markdown -----------------------------------------------------------------------


def test_the_csv_has_one_row_per_commitment(followed_up: Engine) -> None:
    rows = list(csv.DictReader(io.StringIO(render_report(report_for(followed_up), "csv"))))
    assert len(rows) == 30
    assert list(rows[0]) == [
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
    ]
    mbu = {r["party"]: r for r in rows if r["effort"] == "MBU – Människan bakom uniformen"}
    assert mbu["kommun"] == {
        "area_number": "2",
        "area": "En trygg stad för alla",
        "effort": "MBU – Människan bakom uniformen",
        "party": "kommun",
        "responsible": "Brottsförebyggande rådet i Borås (BråB)",
        "state": "uppföljd",
        "period": "2016",
        "followed_up": "ja",
        "values": f"{MBU_TEXT}: 1",
        "comment": MBU_COMMENT,
        "deviation": "ja",
        "missing": "nej",
    }
    assert (mbu["polis"]["values"], mbu["polis"]["deviation"]) == (f"{MBU_TEXT}: 2", "nej")
    assert sum(r["missing"] == "ja" for r in rows) == 27


def test_the_markdown_has_one_table_per_area(followed_up: Engine) -> None:
    md = render_report(report_for(followed_up), "md")
    header = "| Insats/mål | Kommunens åtagande | Polisens åtagande | Tidsplan | Aktivitetsmått | Uppföljning |"
    assert md.count(header) == 4
    assert re.findall(r"^## (\d)\. ", md, flags=re.MULTILINE) == ["1", "2", "3", "4"]
    assert f"{MBU_TEXT}: 1 ⚠ under målet (mål: minst 2)" in md
    assert "Tobakstillsyn – Kommunen: Brottsförebyggande rådet i Borås (BråB)" in md
    # Every table row has the six columns, however the cell text reads.
    rows = [line for line in md.splitlines() if line.startswith("| ") and "---" not in line]
    assert all(len(re.split(r"(?<!\\)\|", row)) == 8 for row in rows)


def test_markdown_cells_carry_no_raw_html_or_pipes(followed_up: Engine) -> None:
    with db.transaction(followed_up) as s:
        service.transition(s, "trafik.kommun", "start", by="regel", why="start", now=at(2016, 1, 5))
        service.record_follow_up(
            s,
            "trafik.kommun",
            period=2016,
            values={"atgardande-insatser": 4},
            comment="<script>x</script> | två skyltar",
            by="Tekniska",
            now=at(2017, 3, 2),
        )
    report = report_for(followed_up)
    md = render_report(report, "md")
    assert "<script>" not in md and "&lt;script&gt;x&lt;/script&gt; \\| två skyltar" in md
    assert "<script>" not in render_report(report, "html")


# -- periods and agreements -----------------------------------------------------------------


def test_a_period_without_follow_ups_still_renders_with_everything_missing(followed_up: Engine) -> None:
    for period in (2014, 2030):
        report = report_for(followed_up, period)
        html = render_report(report, "html")
        assert parse(html).errors == []
        assert text_of(html).count(f"Uppföljning för {period} saknas") == 30
        assert report.summary.followed_up == 0
        assert len(list(csv.DictReader(io.StringIO(render_report(report, "csv"))))) == 30
    # Before the first follow-up period nothing is expected; in 2030 the trafik timeframe is over.
    assert report_for(followed_up, 2014).summary.expected == 0
    assert report_for(followed_up, 2030).summary.expected == 28


def test_an_unknown_agreement_is_refused_with_the_known_ones(followed_up: Engine) -> None:
    with pytest.raises(InvalidValue, match=r"^agreement: .*'nope'.*boras"), db.transaction(followed_up) as s:
        build_report(s, period=2016, agreement_id="nope")


def test_several_agreements_need_one_named(followed_up: Engine, minimal: Agreement) -> None:
    with db.transaction(followed_up) as s:
        load_plan(s, minimal, now=at(2020, 3, 2))
    with pytest.raises(InvalidValue, match=r"^agreement: .*boras, exempel"), db.transaction(followed_up) as s:
        build_report(s, period=2016)
    with db.transaction(followed_up) as s:
        assert build_report(s, period=2016, agreement_id="boras").summary.followed_up == 3


def test_the_arshjul_shows_the_revision_in_its_year(followed_up: Engine) -> None:
    with db.transaction(followed_up) as s:
        agreement = s.get(AgreementRow, "boras")
        assert agreement is not None
        schedule = Schedule.from_settings(agreement.timezone, agreement.schedule)
        events = wheel_events(agreement, schedule, 2017, SwedishCalendar())
    # Signed 2015-12-14, revision every third year, kick-off 60 days before (previous working day).
    assert (date(2018, 10, 15), "Revidering: startbesked") in [(d, k) for d, k, _ in events]
    assert (date(2018, 12, 14), "Revidering ska vara klar") in [(d, k) for d, k, _ in events]
    assert all(d.year == 2018 for d, _, _ in events)


# -- the geometry ---------------------------------------------------------------------------


def test_the_year_starts_at_the_top_of_the_wheel() -> None:
    assert year_angle(date(2017, 1, 1)) == 0
    assert polar(280, 280, 100, year_angle(date(2017, 1, 1))) == (280, 180)


def test_midsummer_of_the_year_is_at_the_bottom_of_the_wheel() -> None:
    angle = year_angle(date(2017, 7, 1))
    assert angle == pytest.approx(360 * 181 / 365)
    assert abs(angle - 180) < 2
    x, y = polar(280, 280, 100, angle)
    assert abs(x - 280) < 3 and y == pytest.approx(380, abs=0.1)


def test_the_wheel_turns_clockwise_through_the_year() -> None:
    assert year_angle(date(2017, 4, 1)) == pytest.approx(360 * 90 / 365)  # a quarter: to the right
    assert polar(0, 0, 10, 90) == (10, 0)
    assert polar(0, 0, 10, 270) == (-10, 0)
    assert year_angle(date(2016, 12, 31)) == pytest.approx(360 * 365 / 366)  # a leap year has 366 days
    days = [date(2017, m, 1) for m in range(1, 13)]
    angles = [year_angle(d) for d in days]
    assert angles == sorted(angles) and angles[-1] < 360


def test_close_deadlines_are_put_in_separate_lanes() -> None:
    same_day = year_angle(date(2017, 3, 31))
    lanes = place_in_lanes([year_angle(date(2017, 3, 24)), same_day, same_day, year_angle(date(2017, 9, 1))])
    assert lanes[1] != lanes[2]  # the same day: never the same spot
    assert lanes[3] == lanes[0]  # far apart: back in the outer lane


@pytest.mark.parametrize(
    ("largest", "top", "step"),
    [(0, 1, 1), (1, 1, 1), (2, 2, 1), (3, 3, 1), (7, 8, 2), (10, 10, 2), (45, 50, 10), (120, 150, 50)],
)
def test_the_chart_scale_rounds_up_to_a_1_2_5_step(largest: float, top: float, step: float) -> None:
    assert nice_scale(largest) == (top, step)


def test_values_are_placed_on_the_chart_scale() -> None:
    assert scale_y(0, 10, 20, 180) == 180
    assert scale_y(10, 10, 20, 180) == 20
    assert scale_y(5, 10, 20, 180) == 100


def test_a_chart_has_a_group_per_year_and_a_bar_per_party() -> None:
    from engine.report import Measure, PartyInfo

    parties = (
        PartyInfo(id="kommun", name="K", heading="Kommunens åtagande", label="Kommunen", colour="#111111"),
        PartyInfo(id="polis", name="P", heading="Polisens åtagande", label="Polisen", colour="#222222"),
    )
    measure = Measure(id="u", text="Antal utbildningar", kind="count", target=2, parties=())
    chart = build_chart(
        effort="MBU", measure=measure, series={"kommun": {2016: 1, 2018: 4}, "polis": {2016: 2}}, parties=parties
    )
    assert [t.label for t in chart.x_ticks] == ["2016", "2017", "2018"]  # a year without data keeps its place
    assert [t.label for t in chart.y_ticks] == ["0", "1", "2", "3", "4"]
    assert [b.colour for b in chart.bars] == ["#111111", "#222222", "#111111"]
    assert all(b.y + b.height == pytest.approx(chart.bottom) for b in chart.bars)
    assert chart.bars[2].y == chart.top  # the largest value reaches the top of the axis
    assert chart.target_label == "mål 2"
