"""The yearly report in six formats with the process owner's analysis, the deadlines as a calendar
file, and the plan as an agreement file.

``/rapport`` shows the analysis and conclusions of one period (``?period=``, else last year's)
to the owner and the party contacts, and to the owner a form that saves it
(``POST /rapport/analys``, engine.api.commands.save_analysis). The form carries the version it
was opened on: one saved meanwhile is refused, with the text kept in the form.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.responses import Response

from engine.api import commands, pages_agreement
from notifications.calendar_export import calendar_file
from notifications.links import base_url_for, statement_url
from notifications.report import FILE_FORMATS
from notifications.report_files import MEDIA_TYPES
from rules.errors import InvalidValue, SamverkanError
from rules.texts import datum
from web.http import Ctx, Web, error_text, flash, message_page, page, redirect, render, switch, wanted_agreement

# The yearly report is one self-contained file with inline CSS and SVG.
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"


# The engine's name for a value (InvalidValue.field) → the form field it is shown beside.
ANALYSIS_FIELDS = {"text": "analys"}


def _period(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) == 4 else None


def _reports_page(
    web: Web,
    ctx: Ctx,
    *,
    period: int | None,
    status: int = 200,
    errors: dict[str, str] | None = None,
    message: str = "",
) -> Response:
    shown = pages_agreement.reports_page(web.engine, wanted_agreement(ctx), now=ctx.now, period=period)
    return render(
        web,
        ctx,
        "reports.html",
        status,
        **switch(shown.choice),
        years=shown.years,
        units=shown.units,
        parties=shown.parties,
        period=shown.period,
        analysis=shown.analysis,
        version=shown.version,
        may_write=ctx.me.role == "owner",
        errors=errors or {},
        message=message,
        # After a refused save the text written is shown again, not the stored one.
        draft=ctx.form.get("analys") if ctx.request.method == "POST" else None,
    )


@page(roles=("owner", "party"))
def reports(web: Web, ctx: Ctx) -> Response:
    return _reports_page(web, ctx, period=_period(ctx.query("period")))


@page(roles=("owner",))
def save_analysis(web: Web, ctx: Ctx) -> Response:
    period = _period(ctx.form.get("period", "").strip())
    if period is None:
        raise HTTPException(400)
    text = ctx.form.get("version", "").strip()
    version = int(text) if text.isdigit() and len(text) < 9 else -1  # garbled: refused as changed
    try:
        saved = commands.save_analysis(
            web.engine,
            period=period,
            text=ctx.form.get("analys", ""),
            by=ctx.me.name or ctx.me.email,  # as the report shows it: "Senast ändrad … av Anna Andersson"
            now=ctx.now,
            agreement=wanted_agreement(ctx),
            version=version,
        )
    except InvalidValue as exc:
        sentence = error_text(exc) + ("" if exc.message.endswith(".") else ".")
        if exc.field in ANALYSIS_FIELDS:
            return _reports_page(web, ctx, period=period, status=400, errors={ANALYSIS_FIELDS[exc.field]: sentence})
        return _reports_page(web, ctx, period=period, status=409 if exc.field == "version" else 400, message=sentence)
    except SamverkanError as exc:
        return _reports_page(web, ctx, period=period, status=400, message=error_text(exc))
    a = saved.analysis
    if saved.changed:
        flash(ctx.request, f"Analysen för {period} är sparad (version {a.version}, {datum(a.written)}).")
    else:
        flash(ctx.request, f"Analysen för {period} är oförändrad; inget nytt sparades.", "info")
    query = urlencode({"overenskommelse": saved.agreement, "period": period})
    return redirect(f"/rapport?{query}#analys")


@page(roles=("owner", "party"))
def report(web: Web, ctx: Ctx) -> Response:
    year, fmt = ctx.request.path_params["year"], ctx.request.path_params["fmt"]
    if fmt not in FILE_FORMATS or not year.isdigit() or not 1900 <= int(year) <= 2200:
        raise HTTPException(404)
    # ?csv=plain: the earlier comma-separated form with English headers, for scripts written against it.
    csv_form = "plain" if ctx.query("csv") == "plain" else "excel"
    try:
        data = pages_agreement.yearly_report(web.engine, period=int(year), wanted=wanted_agreement(ctx))
        # Rendered once per content (web.rendered): a second request for an unchanged report is a lookup.
        body = web.rendered.render(data, fmt, csv_form=csv_form, statement_url=_statement_url(web, ctx))
    except SamverkanError as exc:
        return message_page(web, ctx, 400, "Rapporten kan inte tas fram", error_text(exc))
    if fmt == "html":
        response = Response(body, media_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = REPORT_CSP
        return response
    media = MEDIA_TYPES.get(fmt) or ("text/csv; charset=utf-8" if fmt == "csv" else "text/markdown; charset=utf-8")
    filename = f"arsrapport-{data.agreement_id}-{year}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type=media, headers=disposition)


def _statement_url(web: Web, ctx: Ctx) -> str | None:
    """The accessibility statement under the web's address: the settings' when set, else the one asked for."""
    return statement_url(web.settings.base_url or str(ctx.request.base_url))


@page()
def calendar(web: Web, ctx: Ctx) -> Response:
    unit = ctx.query("enhet") or None
    party = ctx.query("part") or None
    if ctx.me.role == "unit":
        unit, party = ctx.me.unit, None  # a unit's contact gets its own deadlines, whatever was asked
    try:
        # Each event links the web's form, as `samverkan calendar` does with the same setting.
        data, _count = calendar_file(
            web.engine, now=ctx.now, unit=unit, party=None if unit else party, base_url=base_url_for(web.settings)
        )
    except SamverkanError as exc:
        return message_page(web, ctx, 400, "Kalendern kan inte tas fram", error_text(exc))
    name = f"samverkan-{unit or party or 'alla'}.ics"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(data, media_type="text/calendar; charset=utf-8", headers=disposition)


@page(roles=("owner",))
def plan_file(web: Web, ctx: Ctx) -> Response:
    """The current plan version as an agreement file (what `samverkan plan export` writes)."""
    plan = pages_agreement.plan_file(web.engine, wanted_agreement(ctx))
    if plan is None:
        return message_page(web, ctx, 404, "Ingen överenskommelse", "Ingen överenskommelse är inläst ännu.")
    disposition = {"Content-Disposition": f'attachment; filename="{plan.filename}"'}
    return Response(plan.text.encode("utf-8"), media_type="application/yaml; charset=utf-8", headers=disposition)
