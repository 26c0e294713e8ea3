"""The yearly report (engine.report's frozen ``Report``) as HTML, Markdown or CSV.

The HTML is one self-contained file (styles and SVG inline, no scripts; its one link is
the web's accessibility statement, when the web's address is known) that prints to A4
landscape as it looks on screen. Its template, ``templates/report/report.html``, is kept
apart from the mail templates because a user's template folder overrides those and never
this one. Markdown is GitHub's, for a wiki or an issue; CSV has one row per commitment
for a spreadsheet, and in the Excel form the process owner's analysis below the table.

Anyone holding a reminder link writes a comment, the process owner writes the analysis,
and the agreement file names the titles and units, so none of that text is trusted by
the formats that give characters a meaning: the HTML escapes it (autoescape),
``md_text`` writes it as Markdown text (no link, image, HTML, heading or list made of it)
and ``csv_cell`` as a spreadsheet cell that is never a formula. Every tabular export
writes its cells through ``csv_cell``.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Iterable, Sequence
from importlib.resources import files
from typing import Any, Literal

import jinja2

from engine.report.values import ANALYSIS_HEADING, Cell, Report
from notifications.states import STATE_CLASS, STATE_COLOUR, state_css
from rules import lifecycle
from rules.errors import InvalidValue
from rules.texts import datum, tal

Format = Literal["html", "md", "csv"]
FORMATS: tuple[Format, ...] = ("html", "md", "csv")
# Every format of the report; the last three are files an office opens (notifications.report_files).
FileFormat = Literal["html", "md", "csv", "pdf", "docx", "xlsx"]
FILE_FORMATS: tuple[FileFormat, ...] = ("html", "md", "csv", "pdf", "docx", "xlsx")


def _template(name: str) -> tuple[str, str | None, Any] | None:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    resource = files("notifications") / "templates" / "report" / name
    if not resource.is_file():
        return None
    return resource.read_text(encoding="utf-8"), str(resource), lambda: True


# One environment for the process: its template is compiled once (it was compiled at every
# call, most of the HTML report's 0.2 s; docs/performance.md) and never changes while running.
@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update({"datum": datum, "tal": tal, "state_css": state_css})
    return env


STATEMENT_LABEL = "Tillgänglighetsredogörelse"


def render_html(report: Report, *, statement_url: str | None = None) -> str:
    """``statement_url``: the web's accessibility statement, linked at the foot when the web's address is known."""
    colours = [(STATE_CLASS[s], STATE_COLOUR[s]) for s in lifecycle.STATES]
    return (
        _environment()
        .get_template("report.html")
        .render(r=report, state_colours=colours, statement_url=statement_url, statement_label=STATEMENT_LABEL)
    )


# What makes inline Markdown (GitHub's included): emphasis, code, links and images ([ and !),
# raw HTML and entities (< and &), strikethrough, table pipes, and the escape itself.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>&~|!])")
# What starts a block when it begins a line or a list item: a heading, a quote, a list
# (bullet or "1." / "1)"), a setext underline, a fence. Only the first character needs it.
_MD_BLOCK_START = re.compile(r"^(?:([#>+=-])|([0-9]+)([.)]))")


def md_text(value: object) -> str:
    """``value`` as Markdown text, shown as typed: every character that would make markup is escaped.

    Line breaks become spaces (a title or a name in a heading or a list item stays on its
    line); a table cell keeps its lines through ``_md_cell``.
    """
    text = " ".join(str(value).split())
    text = _MD_INLINE.sub(r"\\\1", text)
    return _MD_BLOCK_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)


def _md_cell(lines: str) -> str:
    """Lines already written as Markdown (``md_text``) in one GFM table cell, joined with <br>."""
    return "<br>".join(x for x in (line.strip() for line in lines.replace("\r", "").split("\n")) if x)


def follow_up_text(cell: Cell, *, markdown: bool) -> str:
    e = md_text if markdown else str
    head = f"**{e(cell.party_label)}**" if markdown else cell.party_label
    head += f" ({e(cell.state)})"
    if not cell.followed_up:
        return f"{head}: {e(cell.missing_text)}"
    lines = [f"{head}:"]
    for v in cell.values:
        mark = f" ⚠ under målet (mål: minst {tal(v.target)})" if v.deviation else ""
        lines.append(f"{e(v.line)}{mark}")
    if cell.comment:
        # One line of the cell per line of the comment, each of them text.
        lines += [f"Kommentar: {e(first)}" for first in cell.comment.splitlines()[:1]]
        lines += [e(more) for more in cell.comment.splitlines()[1:]]
    when = datum(cell.recorded) if cell.recorded else ""
    lines.append(f"– {e(cell.by)}, {when}" + (f" (version {cell.version})" if cell.version > 1 else ""))
    return "\n".join(lines)


def render_markdown(r: Report, *, statement_url: str | None = None) -> str:
    """GitHub Markdown whose only markup is the report's own: every text from the plan or a person is ``md_text``."""
    e = md_text
    s = r.summary
    out = [
        f"# {e(r.title)}",
        "",
        f"**Årsrapport för {r.period}** – uppföljningen av {r.period} skulle vara inne {datum(r.due)}.",
        "",
        "Parter: " + "; ".join(e(p.name) for p in r.parties) + f". Processägare: {e(r.process_owner)}.",
        "",
        "## Sammanfattning",
        "",
        f"- Åtaganden: {s.commitments} (" + ", ".join(f"{e(sc.state)} {sc.count}" for sc in s.states if sc.count) + ")",
        f"- Uppföljda för {r.period}: {s.followed_up} av {s.expected} väntade",
        f"- Avvikelser (under målet): {len(s.deviations)}",
        f"- Saknade uppföljningar: {len(s.missing)}",
    ]
    for d in s.deviations:
        out.append(
            f"  - ⚠ {e(d.effort)} – {e(d.party_label)}: {e(d.measure.rstrip(' .'))}: {e(d.value)}"
            f" (mål: minst {e(d.target)})"
        )
    out += ["", f"## {ANALYSIS_HEADING}", "", *_md_analysis(r)]
    for area in r.areas:
        headings = [e(p.heading) for p in r.parties]
        out += ["", f"## {area.number}. {e(area.title)}", ""]
        cols = ["Insats/mål", *headings, "Tidsplan", "Aktivitetsmått", "Uppföljning"]
        out.append("| " + " | ".join(cols) + " |")
        out.append("|" + "|".join(" --- " for _ in cols) + "|")
        for ef in area.efforts:
            row = [e(ef.title)]
            for p in r.parties:
                cell = ef.by_party.get(p.id)
                row.append(
                    "\n".join(e(line) for line in cell.text.splitlines())
                    + f"\n*{e(cell.responsible_name)} · {e(cell.state)}*"
                    if cell
                    else "–"
                )
            row.append(e(ef.timeframe))
            row.append(
                "\n".join(
                    e(m.text)
                    + (f" ({e(m.target_text)})" if m.target_text else "")
                    + (f" ({e(m.only)})" if m.only else "")
                    for m in ef.measures
                )
                or "–"
            )
            row.append("\n".join(follow_up_text(c, markdown=True) for c in ef.cells))
            out.append("| " + " | ".join(_md_cell(x) for x in row) + " |")
    out += ["", f"## Saknade uppföljningar för {r.period}", ""]
    if s.missing:
        # An id is made of the file format's slugs: safe in a code span as it is.
        out += [f"- {e(m.effort)} – {e(m.party_label)}: {e(m.unit)} (`{m.commitment}`)" for m in s.missing]
    else:
        out.append("Inga: alla väntade uppföljningar är registrerade.")
    if statement_url:
        # An autolink, when the address can be one (settings' base_url is the operator's, not a visitor's).
        safe = not re.search(r"[\s<>]", statement_url)
        out += ["", f"{STATEMENT_LABEL}: " + (f"<{statement_url}>" if safe else md_text(statement_url))]
    return "\n".join(out) + "\n"


def _md_analysis(r: Report) -> list[str]:
    """The analysis as Markdown paragraphs, every line text (``md_text``), a line break kept as a hard break."""
    if r.analysis is None:
        return [f"*{md_text(r.no_analysis_text)}*"]
    out: list[str] = []
    for paragraph in r.analysis.paragraphs:
        out += ["\\\n".join(md_text(line) for line in paragraph), ""]
    return [*out, f"*{md_text(r.analysis.changed_line)}*"]


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


# OWASP's CSV injection rule: a spreadsheet reads a cell beginning with one of these as a
# formula (=HYPERLINK(…), +cmd|…, @SUM(…), -2+3+cmd|…); TAB and CR are the ways round a trim.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """One cell of a tabular export, never a formula: text beginning like one gets a leading ``'``.

    A number stays as it is, negative too: the cell is then the number (OWASP), and a
    spreadsheet reads -3 as minus three. Text that merely looks like one ("-3", a comment)
    is quoted all the same, since "-2+3+cmd|…" is text too.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]], *, delimiter: str = ",") -> str:
    """A CSV file (UTF-8 text, LF line ends) whose every cell went through ``csv_cell``."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n", delimiter=delimiter)
    w.writerow([csv_cell(h) for h in header])
    w.writerows([csv_cell(cell) for cell in row] for row in rows)
    return buf.getvalue()


# The same columns as Swedish Excel shows them (the file is then ;-separated, see render_csv).
CSV_COLUMNS_SV = (
    "Område nr",
    "Område",
    "Insats",
    "Part",
    "Ansvarig",
    "Status",
    "Period",
    "Uppföljd",
    "Värden",
    "Kommentar",
    "Avvikelse",
    "Saknas",
)

CsvForm = Literal["excel", "plain"]
CSV_FORMS: tuple[CsvForm, ...] = ("excel", "plain")


def render_csv(r: Report, form: CsvForm = "excel") -> str:
    """One row per commitment: for Swedish Excel (``;``, Swedish headers) or the earlier plain form.

    Swedish Excel splits on ``;`` (the decimal comma takes ``,``); the byte order mark it
    needs to read UTF-8 is the file's, added where the bytes are written (report_files).
    The plain form (``,``, English column names) stays for scripts written against it.
    """
    excel = form == "excel"
    rows: list[Sequence[object]] = [
        [
            area.number,
            area.title,
            e.title,
            c.party_label if excel else c.party,  # a person reads the Swedish form: no ids
            c.responsible_name,
            c.state,
            r.period,
            "ja" if c.followed_up else "nej",
            "; ".join(v.line for v in c.values),
            c.comment,
            "ja" if c.deviations else "nej",
            "ja" if c.missing else "nej",
        ]
        for area in r.areas
        for e in area.efforts
        for c in e.cells
    ]
    if excel and r.analysis is not None:
        rows += csv_analysis_rows(r)
    return csv_text(CSV_COLUMNS_SV if excel else CSV_COLUMNS, rows, delimiter=";" if excel else ",")


def csv_analysis_rows(r: Report) -> list[Sequence[object]]:
    """The analysis below the table, as Swedish Excel shows it: after an empty row, a heading, one
    row per paragraph (its line breaks kept inside the cell), and who changed it last.

    Only in the Excel form: a script reading the plain form gets the table alone, as before.
    """
    a = r.analysis
    if a is None:
        return []
    return [[], [f"{ANALYSIS_HEADING} {r.period}"], *(["\n".join(p)] for p in a.paragraphs), [a.changed_line]]


def render_report(report: Report, fmt: Format, *, csv_form: CsvForm = "excel", statement_url: str | None = None) -> str:
    """The report as HTML (self-contained, prints to A4), GitHub Markdown or CSV (UTF-8 text)."""
    if fmt == "html":
        return render_html(report, statement_url=statement_url)
    if fmt == "md":
        return render_markdown(report, statement_url=statement_url)
    if fmt == "csv":
        return render_csv(report, csv_form)
    raise InvalidValue("format", f"okänt format '{fmt}' (giltiga: {', '.join(FORMATS)})")
