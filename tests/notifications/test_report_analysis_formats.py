"""The process owner's analysis in every format of the yearly report, as text and never as markup,
and the report's link to the accessibility statement.

The scenario is tests/report_scenario.py's, with an analysis of 2016 written by someone who
types markup, a formula and a Markdown heading: each format must show those as the characters
typed.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from html.parser import HTMLParser

import docx
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from pypdf import PdfReader
from sqlalchemy import Engine

from engine.api import commands
from engine.report.values import Report
from notifications.report import render_html, render_markdown
from notifications.report_files import RenderedReports, render_report_file
from rules import analysis
from rules.errors import InvalidValue
from tests.report_scenario import at, follow_up_some, report_for

FIRST = "<script>alert('x')</script> gick & <b>bra</b>"
SECOND = "# inte en rubrik"
FORMULA = '=HYPERLINK("http://x","klicka")'
HOSTILE = f"{FIRST}\n{SECOND}\n\n{FORMULA} och **inte fet**"
BY = "Anna Andersson, BråB"
CHANGED = "Senast ändrad 3 april 2017 av Anna Andersson, BråB"
STATEMENT = "https://samverkan.boras.se/tillganglighet"


@pytest.fixture
def report(loaded: Engine) -> Report:
    follow_up_some(loaded)
    commands.save_analysis(loaded, period=2016, text=HOSTILE, by=BY, now=at(2017, 4, 3))
    return report_for(loaded)


class _Text(HTMLParser):
    """The text of each <p> in the analysis section, and every element opened anywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.inside = False
        self.in_p = False
        self.paragraphs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "section" and ("class", "analysis") in attrs:
            self.inside = True
        elif self.inside and tag == "p":
            self.in_p = True
            self.paragraphs.append("")
        elif self.inside and tag == "br":
            self.paragraphs[-1] += "\n"

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.inside = False
        self.in_p = self.in_p and tag != "p"

    def handle_data(self, data: str) -> None:
        if self.inside and self.in_p:
            self.paragraphs[-1] += data


def test_the_html_shows_the_analysis_as_paragraphs_of_text_never_as_markup(report: Report) -> None:
    html = render_report_file(report, "html").decode("utf-8")
    parsed = _Text()
    parsed.feed(html)
    assert "script" not in parsed.tags and "b" not in parsed.tags
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; gick &amp; &lt;b&gt;bra&lt;/b&gt;" in html
    assert parsed.paragraphs == [f"{FIRST}\n{SECOND}", f"{FORMULA} och **inte fet**", f"{CHANGED}."]
    assert "<h2>Analys och slutsatser</h2>" in html
    # After the summary, before the plan.
    assert html.index("<h2>Sammanfattning</h2>") < html.index("Analys och slutsatser") < html.index("Åtagandeplan med")


def test_the_markdown_shows_the_analysis_as_text(report: Report) -> None:
    md = render_report_file(report, "md").decode("utf-8")
    section = md.split("## Analys och slutsatser\n", 1)[1].split("\n## ", 1)[0]
    assert "<script>" not in md and "\n# inte" not in md
    assert "\\<script\\>alert('x')\\</script\\> gick \\& \\<b\\>bra\\</b\\>\\\n\\# inte en rubrik" in section
    assert "\\*\\*inte fet\\*\\*" in section
    assert f"*{CHANGED}*" in section


def test_the_csv_for_excel_ends_with_the_analysis_under_its_heading_and_no_cell_is_a_formula(report: Report) -> None:
    rows = list(csv.reader(io.StringIO(render_report_file(report, "csv").decode("utf-8-sig")), delimiter=";"))
    assert len(rows[1]) == 12  # the table first, as before
    tail = rows[rows.index([]) :]
    assert tail == [
        [],
        ["Analys och slutsatser 2016"],
        [f"{FIRST}\n{SECOND}"],
        ["'" + FORMULA + " och **inte fet**"],
        [CHANGED],
    ]
    # The plain form, for scripts, is the table alone.
    plain = list(csv.reader(io.StringIO(render_report_file(report, "csv", csv_form="plain").decode("utf-8"))))
    assert len(plain) == 31 and all(len(r) == 12 for r in plain)


def test_the_word_file_has_the_heading_analys_och_slutsatser_and_one_paragraph_per_paragraph(report: Report) -> None:
    doc = docx.Document(io.BytesIO(render_report_file(report, "docx")))
    paragraphs = [(p.style.name if p.style is not None else "", p.text) for p in doc.paragraphs]
    at_heading = paragraphs.index(("Heading 1", "Analys och slutsatser"))
    assert [text for _, text in paragraphs[at_heading + 1 : at_heading + 4]] == [
        f"{FIRST}\n{SECOND}",  # the line break kept inside the paragraph
        f"{FORMULA} och **inte fet**",
        f"{CHANGED}.",
    ]
    assert paragraphs.index(("Heading 1", "Sammanfattning")) < at_heading


def test_the_workbook_has_the_analysis_on_a_sheet_of_its_own_as_text_cells(report: Report) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(render_report_file(report, "xlsx")))
    assert wb.sheetnames[-1] == "Analys"
    ws = wb["Analys"]
    assert [c.value for c in ws["A"]] == [
        "Analys och slutsatser 2016",
        f"{FIRST}\n{SECOND}",
        f"{FORMULA} och **inte fet**",
        CHANGED,
    ]
    assert all(c.data_type == "s" for c in ws["A"])  # the formula is text
    assert ws.freeze_panes == "A2"


def test_the_pdf_shows_the_analysis_as_typed_and_the_accessibility_statement_on_every_page(report: Report) -> None:
    data = render_report_file(report, "pdf", statement_url=STATEMENT)
    pages = [" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(data)).pages]
    whole = " ".join(pages)
    assert "Analys och slutsatser" in whole and CHANGED in whole
    assert "<script>alert('x')</script> gick & <b>bra</b>" in whole  # printed as typed, not run or parsed
    for n, text in enumerate(pages, start=1):
        assert f"Tillgänglighetsredogörelse: {STATEMENT}" in text, n
        assert f"Sida {n} av {len(pages)}" in text, n


def test_the_html_report_links_to_the_accessibility_statement_when_the_webs_address_is_known(report: Report) -> None:
    html = render_report_file(report, "html", statement_url=STATEMENT).decode("utf-8")
    assert f'Tillgänglighetsredogörelse: <a href="{STATEMENT}">{STATEMENT}</a>' in html
    without = render_report_file(report, "html").decode("utf-8")
    assert "Tillgänglighetsredogörelse" not in without and not re.search(r"href=", without)


def test_a_report_without_an_analysis_says_it_is_not_written(loaded: Engine) -> None:
    follow_up_some(loaded)
    report = report_for(loaded)
    assert report.analysis is None
    said = "Processägarens analys och slutsatser för 2016 är inte skrivna ännu."
    assert said in render_report_file(report, "html").decode("utf-8")
    assert said in render_report_file(report, "md").decode("utf-8")
    ws = openpyxl.load_workbook(io.BytesIO(render_report_file(report, "xlsx")))["Analys"]
    assert [c.value for c in ws["A"]] == ["Analys och slutsatser 2016", said]
    assert "Analys och slutsatser" not in render_report_file(report, "csv").decode("utf-8-sig")


def test_a_rendered_file_is_kept_until_anything_the_report_shows_changes(loaded: Engine) -> None:
    follow_up_some(loaded)
    cache = RenderedReports(size=4)
    first = cache.render(report_for(loaded), "md", statement_url=STATEMENT)
    assert (
        cache.render(report_for(loaded), "md", statement_url=STATEMENT) is first
    )  # the same bytes, not rendered again
    commands.save_analysis(loaded, period=2016, text="Ny analys.", by=BY, now=at(2017, 4, 3))
    saved = cache.render(report_for(loaded), "md", statement_url=STATEMENT)
    assert saved is not first and b"Ny analys." in saved
    values = {"atgardande-insatser": 4}
    commands.record_follow_up(
        loaded, "trafik.polis", period=2016, values=values, comment="Fyra", by="Per", now=at(2017, 4, 4)
    )
    after = cache.render(report_for(loaded), "md", statement_url=STATEMENT)
    assert after is not saved and b"Fyra" in after
    assert cache.render(report_for(loaded), "md", statement_url=None) is not after  # the link is part of the file
    for fmt in ("csv", "html", "xlsx"):
        cache.render(report_for(loaded), fmt, statement_url=None)
    assert len(cache) == 4  # the least recently used went


# Text as a person types it: markup, Markdown, entities, formulas, line breaks, anything printable.
TYPED = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("<>&\"'`*_#[]()!|\\-+=@~\n\r\t ")),
        st.characters(exclude_categories=["Cs"]),
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=TYPED)
def test_any_accepted_analysis_reads_as_typed_in_the_html_and_the_markdown(report: Report, typed: str) -> None:
    try:
        text = analysis.checked(typed)
    except InvalidValue:
        return  # refused before it is stored (tested above)
    assert report.analysis is not None
    shown = replace(report, analysis=replace(report.analysis, text=text))
    expected = ["\n".join(lines) for lines in analysis.paragraphs(text)]
    # HTML: its own elements only, every character as typed.
    parsed = _Text()
    parsed.feed(render_html(shown))
    assert parsed.paragraphs[:-1] == expected and "script" not in parsed.tags
    # Markdown: one paragraph of text per paragraph, whatever was typed (no heading, list, link, HTML, code).
    md = render_markdown(shown)
    section = md.split("## Analys och slutsatser\n", 1)[1].split("\n## ", 1)[0]
    tokens = MarkdownIt("commonmark").parse(section)
    assert {t.type for t in tokens} <= {"paragraph_open", "inline", "paragraph_close"}, section
    read = [
        "".join("\n" if c.type in ("hardbreak", "softbreak") else c.content for c in t.children or [])
        for t in tokens
        if t.type == "inline"
    ]
    # Markdown reads runs of spaces as one, and md_text writes them so.
    spaced = ["\n".join(" ".join(line.split()) for line in lines) for lines in analysis.paragraphs(text)]
    assert [r.replace("\\\n", "\n") for r in read[:-1]] == spaced, section
