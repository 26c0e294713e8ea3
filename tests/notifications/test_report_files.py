"""The yearly report as PDF, Word, Excel and the CSV for Swedish Excel, each opened with its own library.

The scenario is tests/report_scenario.py's (Borås, 2016, some commitments followed up).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

import docx
import openpyxl
import pytest
from pypdf import PdfReader
from sqlalchemy import Engine

from engine.clock import FixedClock
from engine.report.values import Report
from notifications.report_files import render_report_file
from samverkan.cli import main
from tests.report_scenario import MBU_COMMENT, MBU_TEXT, follow_up_some, report_for


@pytest.fixture
def followed_up(loaded: Engine) -> Engine:
    return follow_up_some(loaded)


@pytest.fixture
def report(followed_up: Engine) -> Report:
    return report_for(followed_up)


def test_the_pdf_has_a_cover_and_sida_n_av_m_and_a_running_header_on_every_other_page(report: Report) -> None:
    # Words as read, whatever the lines they were wrapped to.
    pages = [" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(render_report_file(report, "pdf"))).pages]
    total = len(pages)
    assert total >= 4
    for n, text in enumerate(pages, start=1):
        assert f"Sida {n} av {total}" in text, (n, text[-200:])
    assert report.title in pages[0] and "ÅRSRAPPORT FÖR 2016" in pages[0].upper()
    assert "Sammanfattning" not in pages[0]  # the cover is the report's header alone
    for text in pages[1:]:
        assert report.title in text and "Årsrapport 2016" in text  # the running header
    # The plan, its follow-up, the charts and the årshjul are all there.
    whole = "\n".join(pages)
    for heading in (
        "Sammanfattning",
        "Åtagandeplan med uppföljning 2016",
        "Aktivitetsmått över åren",
        f"Årshjul {report.wheel.year}",
    ):
        assert heading in whole
    assert MBU_COMMENT in whole
    # No near-empty page: each page after the cover carries far more than its header and
    # footer (the summary's lists once went whole to a page of their own, 41 words with both).
    for n, text in enumerate(pages[1:], start=2):
        assert len(text.split()) > 60, (n, text)


def test_the_word_file_has_real_headings_and_one_table_per_area(report: Report) -> None:
    doc = docx.Document(io.BytesIO(render_report_file(report, "docx")))
    headings = [
        (p.style.name, p.text)
        for p in doc.paragraphs
        if p.style is not None and p.style.name.startswith(("Heading", "Title"))
    ]
    assert headings[0] == ("Title", report.title)
    assert ("Heading 1", "Sammanfattning") in headings
    assert ("Heading 1", "2. En trygg stad för alla") in headings
    assert len(doc.tables) == len(report.areas)
    area2 = doc.tables[[a.number for a in report.areas].index(2)]
    assert [c.text for c in area2.rows[0].cells][:2] == ["Insats/mål", report.parties[0].heading]
    mbu = next(row for row in area2.rows if row.cells[0].text == "MBU – Människan bakom uniformen")
    assert MBU_COMMENT in mbu.cells[-1].text and f"{MBU_TEXT}: 1" in mbu.cells[-1].text


def test_the_workbook_has_one_sheet_per_view_typed_cells_and_frozen_headers(report: Report) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(render_report_file(report, "xlsx")))
    assert wb.sheetnames == ["Uppföljning", "Sammanfattning", "Avvikelser", "Saknade", "Analys"]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
    ws = wb["Uppföljning"]
    header = [c.value for c in ws[1]]
    assert header[:6] == ["Område nr", "Område", "Insats", "Part", "Ansvarig", "Status"]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in ws.iter_rows(min_row=2)]
    assert len(rows) == 30
    mbu = next(r for r in rows if r["Insats"] == "MBU – Människan bakom uniformen" and r["Part"] == "Kommunen")
    assert mbu["Område nr"] == 2 and isinstance(mbu["Område nr"], int)
    assert isinstance(mbu["Registrerad"], date) and isinstance(mbu["Status sedan"], date)
    assert mbu["Kommentar"] == MBU_COMMENT and mbu["Avvikelse"] == "ja"
    deviations = list(wb["Avvikelser"].iter_rows(min_row=2, values_only=True))
    assert deviations and all(isinstance(row[3], int | float) for row in deviations)


def test_a_comment_that_looks_like_a_formula_is_a_text_cell_in_the_workbook() -> None:
    from notifications.report_files import _sheet

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    _sheet(ws, ("Kommentar", "Antal"), [['=HYPERLINK("http://x")', 3]])
    buf = io.BytesIO()
    wb.save(buf)
    back = openpyxl.load_workbook(io.BytesIO(buf.getvalue())).active
    assert back is not None
    assert back["A2"].data_type == "s" and back["A2"].value == '=HYPERLINK("http://x")'
    assert back["B2"].value == 3


def test_the_csv_is_for_swedish_excel_and_the_plain_form_is_kept(report: Report) -> None:
    data = render_report_file(report, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 30
    assert list(rows[0])[:6] == ["Område nr", "Område", "Insats", "Part", "Ansvarig", "Status"]
    plain = render_report_file(report, "csv", csv_form="plain")
    assert not plain.startswith(b"\xef\xbb\xbf")
    assert re.match(rb"area_number,area,effort,party,", plain)


def test_the_cli_writes_each_office_format_and_the_plain_csv_on_request(
    followed_up: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = followed_up.url.render_as_string(hide_password=False)
    clock = FixedClock(datetime(2017, 4, 3, 9, 0, tzinfo=UTC))
    for fmt, magic in (("docx", b"PK"), ("xlsx", b"PK"), ("csv", b"\xef\xbb\xbf")):
        out = tmp_path / f"rapport.{fmt}"
        args = ["report", "--db", url, "--period", "2016", "--format", fmt, "--out", str(out)]
        assert main(args, clock=clock) == 0
        assert out.read_bytes().startswith(magic), fmt
        assert f"Årsrapporten för 2016 skriven till {out} ({fmt})." in capsys.readouterr().out
    plain = tmp_path / "plain.csv"
    args = ["report", "--db", url, "--period", "2016", "--format", "csv", "--csv-format", "plain", "--out", str(plain)]
    assert main(args, clock=clock) == 0
    assert plain.read_text(encoding="utf-8").startswith("area_number,area,effort,")
    assert openpyxl.load_workbook(tmp_path / "rapport.xlsx").sheetnames[0] == "Uppföljning"
