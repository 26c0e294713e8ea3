"""The yearly report (engine.report's frozen ``Report``) as HTML, Markdown or CSV.

The HTML is one self-contained file (styles and SVG inline, no scripts or links) that
prints to A4 landscape as it looks on screen. Its template,
``templates/report/report.html``, is kept apart from the mail templates because a
user's template folder overrides those and never this one. Markdown is GitHub's, for
a wiki or an issue; CSV has one row per commitment for a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from importlib.resources import files
from typing import Any, Literal

import jinja2

from engine.report.values import Cell, Report
from notifications.states import STATE_CLASS, STATE_COLOUR, state_css
from rules import lifecycle
from rules.errors import InvalidValue
from rules.texts import datum, tal

Format = Literal["html", "md", "csv"]
FORMATS: tuple[Format, ...] = ("html", "md", "csv")


def _template(name: str) -> tuple[str, str | None, Any] | None:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    resource = files("notifications") / "templates" / "report" / name
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
    env.filters.update({"datum": datum, "tal": tal, "state_css": state_css})
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
