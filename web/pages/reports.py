"""The yearly report in six formats, the deadlines as a calendar file, and the plan as an agreement file."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import Response

from engine.api import pages_agreement
from notifications.calendar_export import calendar_file
from notifications.links import base_url_for
from notifications.report import FILE_FORMATS
from notifications.report_files import MEDIA_TYPES, render_report_file
from rules.errors import SamverkanError
from web.http import Ctx, Web, error_text, message_page, page, render, switch, wanted_agreement

# The yearly report is one self-contained file with inline CSS and SVG.
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"


@page(roles=("owner", "party"))
def reports(web: Web, ctx: Ctx) -> Response:
    shown = pages_agreement.reports_page(web.engine, wanted_agreement(ctx), now=ctx.now)
    return render(
        web,
        ctx,
        "reports.html",
        **switch(shown.choice),
        years=shown.years,
        units=shown.units,
        parties=shown.parties,
    )


@page(roles=("owner", "party"))
def report(web: Web, ctx: Ctx) -> Response:
    year, fmt = ctx.request.path_params["year"], ctx.request.path_params["fmt"]
    if fmt not in FILE_FORMATS or not year.isdigit() or not 1900 <= int(year) <= 2200:
        raise HTTPException(404)
    # ?csv=plain: the earlier comma-separated form with English headers, for scripts written against it.
    csv_form = "plain" if ctx.query("csv") == "plain" else "excel"
    try:
        data = pages_agreement.yearly_report(web.engine, period=int(year), wanted=wanted_agreement(ctx))
        body = render_report_file(data, fmt, csv_form=csv_form)
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
