"""The yearly report rendered: the åtagandeplan laid out as in the agreement, its Uppföljning column filled.

The scenario is tests/report_scenario.py's.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from html.parser import HTMLParser

import pytest
from sqlalchemy import Engine

from engine import db, service
from engine.agreement import Agreement
from engine.report.charts import scale_y
from notifications.report import render_report
from rules.texts import MONTH_ABBR
from tests.report_scenario import MBU_COMMENT, MBU_TEXT, SSPF_VALUE, at, follow_up_some, report_for

VOID = {"meta", "br", "col", "link", "img", "hr", "input"}


@pytest.fixture
def followed_up(loaded: Engine) -> Engine:
    return follow_up_some(loaded)


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


def test_the_plain_csv_has_one_row_per_commitment(followed_up: Engine) -> None:
    rows = list(csv.DictReader(io.StringIO(render_report(report_for(followed_up), "csv", csv_form="plain"))))
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
    assert "<script>" not in md and "\\<script\\>x\\</script\\> \\| två skyltar" in md
    assert "<script>" not in render_report(report, "html")


# -- periods and agreements -----------------------------------------------------------------


def test_a_period_without_follow_ups_still_renders_with_everything_missing(followed_up: Engine) -> None:
    for period in (2014, 2030):
        report = report_for(followed_up, period)
        html = render_report(report, "html")
        assert parse(html).errors == []
        assert text_of(html).count(f"Uppföljning för {period} saknas") == 30
        assert report.summary.followed_up == 0
        assert len(list(csv.DictReader(io.StringIO(render_report(report, "csv", csv_form="plain"))))) == 30
    # Before the first follow-up period nothing is expected; in 2030 the trafik timeframe is over.
    assert report_for(followed_up, 2014).summary.expected == 0
    assert report_for(followed_up, 2030).summary.expected == 28
