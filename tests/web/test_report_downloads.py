"""The yearly report's office formats downloaded from /rapport in the browser, as a process owner would."""

from __future__ import annotations

import io
from typing import Any

import docx
import openpyxl
from pypdf import PdfReader


def test_in_the_browser_the_owner_downloads_the_report_as_pdf_word_and_excel(live: Any, page: Any, kit: Any) -> None:
    kit.sign_in(page, live.url, kit.OWNER, kit.PASSWORD)
    page.goto(f"{live.url}/rapport")
    files: dict[str, bytes] = {}
    for name, fmt in (("PDF", "pdf"), ("Word", "docx"), ("Excel", "xlsx")):
        # The PDF takes seconds to lay out (docs/performance.md): the download is awaited, not the click.
        with page.expect_download(timeout=60_000) as info:
            page.get_by_role("link", name=f"{name} för 2026", exact=True).click(no_wait_after=True)
        download = info.value
        assert download.suggested_filename == f"arsrapport-boras-2026.{fmt}"
        files[fmt] = open(download.path(), "rb").read()  # noqa: SIM115 - Playwright keeps the file
    pages = PdfReader(io.BytesIO(files["pdf"])).pages
    assert all(f"Sida {n} av {len(pages)}" in p.extract_text() for n, p in enumerate(pages, start=1))
    assert docx.Document(io.BytesIO(files["docx"])).paragraphs[0].text.startswith("Samverkansöverenskommelse")
    assert openpyxl.load_workbook(io.BytesIO(files["xlsx"])).sheetnames[0] == "Uppföljning"
