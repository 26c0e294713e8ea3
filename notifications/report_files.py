"""The yearly report as files an office opens: PDF (WeasyPrint), Word (python-docx), Excel (openpyxl).

The PDF is the HTML report printed by WeasyPrint with print rules of its own: the report's
header alone on a cover, "Sida N av M" and a running header on every other page, and the
plan flowing on after the summary instead of starting a page of its own (it left page 2
near empty). Word and Excel are built from the same ``Report`` values as the Markdown and
the CSV, so every format says the same; the Word file has real headings and tables that a
coordinator can edit, the workbook one sheet per view with typed cells (numbers as numbers,
dates as dates) and a frozen header row; text is always a text cell, so a comment written
through a reminder link is never a formula there. The process owner's analysis is in each
(after the summary; the workbook's sheet *Analys*); the PDF names the accessibility
statement at the foot of every page when the web's address is known.

``RenderedReports`` keeps rendered files by what they were made from, for the web.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date

from docx import Document
from docx.shared import Pt
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from weasyprint import HTML

from engine.report.values import ANALYSIS_HEADING, Report
from notifications.report import (
    FILE_FORMATS,
    FORMATS,
    STATEMENT_LABEL,
    CsvForm,
    FileFormat,
    follow_up_text,
    render_html,
    render_report,
)
from rules.errors import InvalidValue
from rules.texts import datum

MEDIA_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# Print rules for the PDF only (the HTML report prints as it looks on screen and keeps its own).
_PDF_CSS = """
@page {
  size: A4 landscape; margin: 16mm 11mm 15mm;
  @top-left { content: string(report-title); font: 8pt sans-serif; color: #475569; }
  @top-right { content: "Årsrapport PERIOD"; font: 8pt sans-serif; color: #475569; }
  @bottom-right { content: "Sida " counter(page) " av " counter(pages); font: 8pt sans-serif; color: #475569; }
}
@page :first { @top-left { content: none; } @top-right { content: none; } }
html { background: #fff; }
body { font-size: 9pt; }
main { max-width: none; padding: 0; }
header { break-after: page; padding-top: 45mm; }
header h1 { font-size: 26pt; string-set: report-title content(); }
header .kicker { font-size: 12pt; }
h2.page { break-before: auto; }
/* WeasyPrint does not split a flex box across pages: the summary's lists went whole to a page
   of their own, the note after them to another. Columns split. */
.lists { display: block; column-count: 2; column-gap: 24px; }
.lists h3 { margin-top: 0; }
table.plan { font-size: 8.5pt; }
table.plan th, table.plan td { padding: 4px 6px; }
table.plan thead { display: table-header-group; }
.wheel-svg { width: 145mm; }
"""


def _css_string(text: str) -> str:
    """``text`` as a CSS string: quotes and backslashes escaped, anything unprintable dropped."""
    kept = "".join(ch for ch in text if ch.isprintable())
    return '"' + kept.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_pdf(report: Report, *, statement_url: str | None = None) -> bytes:
    # An author style after the report's own, so that it wins (a stylesheet passed to
    # write_pdf is a user style, which loses to the report's). The period is a number.
    css = _PDF_CSS.replace("PERIOD", str(report.period))
    if statement_url:
        # The accessibility statement's address at the foot of every page, the cover's too.
        line = _css_string(f"{STATEMENT_LABEL}: {statement_url}")
        css += f"@page {{ @bottom-left {{ content: {line}; font: 8pt sans-serif; color: #475569; }} }}\n"
    html = render_html(report, statement_url=statement_url).replace("</head>", f"<style>{css}</style>\n</head>", 1)
    out: bytes = HTML(string=html).write_pdf()  # the bytes, when given no target
    return out


def _plan_rows(r: Report) -> list[list[object]]:
    rows: list[list[object]] = []
    for area in r.areas:
        for ef in area.efforts:
            for c in ef.cells:
                rows.append(
                    [
                        area.number,
                        area.title,
                        ef.title,
                        c.party_label,
                        c.responsible_name,
                        c.state,
                        c.state_since,
                        "ja" if c.followed_up else "nej",
                        "; ".join(v.line for v in c.values),
                        c.comment,
                        c.recorded,
                        "ja" if c.deviations else "nej",
                        "ja" if c.missing else "nej",
                    ]
                )
    return rows


PLAN_HEADER = (
    "Område nr",
    "Område",
    "Insats",
    "Part",
    "Ansvarig",
    "Status",
    "Status sedan",
    "Uppföljd",
    "Värden",
    "Kommentar",
    "Registrerad",
    "Avvikelse",
    "Saknas",
)


def render_docx(r: Report) -> bytes:
    doc = Document()
    doc.styles["Normal"].font.size = Pt(10)
    doc.core_properties.title = f"Årsrapport {r.period} – {r.title}"
    doc.core_properties.language = "sv-SE"
    doc.add_heading(r.title, level=0)
    doc.add_paragraph(f"Årsrapport för {r.period} – uppföljningen av {r.period} skulle vara inne {datum(r.due)}.")
    doc.add_paragraph("Parter: " + "; ".join(p.name for p in r.parties) + f". Processägare: {r.process_owner}.")
    s = r.summary
    doc.add_heading("Sammanfattning", level=1)
    states = ", ".join(f"{sc.state} {sc.count}" for sc in s.states if sc.count)
    for line in (
        f"Åtaganden: {s.commitments} ({states})",
        f"Uppföljda för {r.period}: {s.followed_up} av {s.expected} väntade",
        f"Avvikelser (under målet): {len(s.deviations)}",
        f"Saknade uppföljningar: {len(s.missing)}",
    ):
        doc.add_paragraph(line, style="List Bullet")
    for d in s.deviations:
        doc.add_paragraph(
            f"{d.effort} – {d.party_label}: {d.measure.rstrip(' .')}: {d.value} (mål: minst {d.target})",
            style="List Bullet 2",
        )
    doc.add_heading(ANALYSIS_HEADING, level=1)
    if r.analysis is None:
        doc.add_paragraph(r.no_analysis_text).runs[0].italic = True
    else:
        for paragraph in r.analysis.paragraphs:
            doc.add_paragraph("\n".join(paragraph))  # python-docx writes a line break for each \n
        doc.add_paragraph(r.analysis.changed_line + ".").runs[0].italic = True
    for area in r.areas:
        doc.add_heading(f"{area.number}. {area.title}", level=1)
        cols = ["Insats/mål", *(p.heading for p in r.parties), "Tidsplan", "Aktivitetsmått", "Uppföljning"]
        table = doc.add_table(rows=1, cols=len(cols))
        table.style = "Table Grid"
        for cell, text in zip(table.rows[0].cells, cols, strict=True):
            cell.text = text
            cell.paragraphs[0].runs[0].bold = True
        for ef in area.efforts:
            row = [ef.title]
            for p in r.parties:
                pc = ef.by_party.get(p.id)
                row.append(f"{pc.text}\n{pc.responsible_name} · {pc.state}" if pc else "–")
            row.append(ef.timeframe)
            row.append(
                "\n".join(
                    m.text + (f" ({m.target_text})" if m.target_text else "") + (f" ({m.only})" if m.only else "")
                    for m in ef.measures
                )
                or "–"
            )
            row.append("\n".join(follow_up_text(c, markdown=False) for c in ef.cells))
            for cell, text in zip(table.add_row().cells, row, strict=True):
                cell.text = text
    doc.add_heading(f"Saknade uppföljningar för {r.period}", level=1)
    if s.missing:
        for m in s.missing:
            doc.add_paragraph(f"{m.effort} – {m.party_label}: {m.unit}", style="List Bullet")
    else:
        doc.add_paragraph("Inga: alla väntade uppföljningar är registrerade.")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _sheet(ws: Worksheet, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    ws.append(list(header))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(list(row))
        # A number or a date stays typed; text is text even when it begins with "=" (a comment
        # written through a reminder link), where openpyxl would otherwise write a formula.
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    ws.freeze_panes = "A2"
    for i, name in enumerate(header, start=1):
        width = max([len(name), *(len(str(r[i - 1] or "")) for r in rows)]) if rows else len(name)
        ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
    for row_cells in ws.iter_rows(min_row=2):
        for cell in row_cells:
            if isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
            cell.alignment = Alignment(vertical="top", wrap_text=isinstance(cell.value, str))


def render_xlsx(r: Report) -> bytes:
    wb = Workbook()
    plan = wb.active
    assert plan is not None
    plan.title = "Uppföljning"
    _sheet(plan, PLAN_HEADER, _plan_rows(r))
    _sheet(
        wb.create_sheet("Sammanfattning"),
        ("Status", "Antal"),
        [[sc.state, sc.count] for sc in r.summary.states]
        + [
            ["Åtaganden", r.summary.commitments],
            [f"Uppföljda för {r.period}", r.summary.followed_up],
            [f"Väntade för {r.period}", r.summary.expected],
        ],
    )
    _sheet(
        wb.create_sheet("Avvikelser"),
        ("Insats", "Part", "Aktivitetsmått", "Värde", "Mål (minst)"),
        [[d.effort, d.party_label, d.measure, _number(d.value), _number(d.target)] for d in r.summary.deviations],
    )
    _sheet(
        wb.create_sheet("Saknade"),
        ("Insats", "Part", "Enhet", "Åtagande"),
        [[m.effort, m.party_label, m.unit, m.commitment] for m in r.summary.missing],
    )
    # One paragraph a row (its line breaks inside the cell), who changed it last below them.
    a = r.analysis
    text_rows = [["\n".join(p)] for p in a.paragraphs] + [[a.changed_line]] if a else [[r.no_analysis_text]]
    analysis_sheet = wb.create_sheet("Analys")
    _sheet(analysis_sheet, (f"{ANALYSIS_HEADING} {r.period}",), text_rows)
    analysis_sheet.column_dimensions["A"].width = 100
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _number(text: str) -> object:
    """A value the report shows as text ("3", "2,5") as a number when it is one."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text.replace(",", "."))
        except ValueError:
            return text


def render_report_file(
    report: Report, fmt: FileFormat | str, *, csv_form: CsvForm | str = "excel", statement_url: str | None = None
) -> bytes:
    """The report in any format as the bytes of its file.

    ``statement_url``: the web's accessibility statement (``/tillganglighet``), linked from the
    HTML report and at the foot of the PDF's pages when the web's address is known.
    """
    if fmt == "pdf":
        return render_pdf(report, statement_url=statement_url)
    if fmt == "docx":
        return render_docx(report)
    if fmt == "xlsx":
        return render_xlsx(report)
    for text_fmt in FORMATS:
        if fmt == text_fmt:
            excel = csv_form != "plain"
            text = render_report(report, text_fmt, csv_form="excel" if excel else "plain", statement_url=statement_url)
            # Swedish Excel reads UTF-8 only with a byte order mark.
            return (("\ufeff" if fmt == "csv" and excel else "") + text).encode("utf-8")
    raise InvalidValue("format", f"okänt format '{fmt}' (giltiga: {', '.join(FILE_FORMATS)})")


class RenderedReports:
    """Report files already rendered, kept by a digest of everything they were rendered from.

    The web renders a file per request, and the PDF takes seconds (docs/performance.md). The
    key is the report's own values (the frozen ``Report``'s repr: every commitment, state,
    follow-up, name and the analysis), the format and the link, so anything that changes what
    the report shows makes a new key: no invalidation to forget, and never a stale file. The
    report is still read from the database for each request (a few hundredths of a second);
    only the rendering is saved. The least recently used file goes once ``size`` are kept.
    """

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._files: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()  # pages run in worker threads

    @staticmethod
    def key(report: Report, fmt: str, csv_form: str, statement_url: str | None) -> str:
        made_of = repr((report, fmt, csv_form, statement_url))
        return hashlib.sha256(made_of.encode("utf-8", "surrogatepass")).hexdigest()

    def render(
        self, report: Report, fmt: FileFormat | str, *, csv_form: CsvForm | str = "excel", statement_url: str | None
    ) -> bytes:
        """``render_report_file``'s bytes, rendered once per key."""
        key = self.key(report, fmt, csv_form, statement_url)
        with self._lock:
            if key in self._files:
                self._files.move_to_end(key)
                return self._files[key]
        # Rendered outside the lock: two first requests may both render, but no one waits on another's PDF.
        data = render_report_file(report, fmt, csv_form=csv_form, statement_url=statement_url)
        with self._lock:
            self._files[key] = data
            self._files.move_to_end(key)
            while len(self._files) > self._size:
                self._files.popitem(last=False)
        return data

    def __len__(self) -> int:
        return len(self._files)
