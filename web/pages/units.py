"""The agreement's units and their contacts: the process owner changes a name, an address or a contact person here.

A change is the next plan version, made as ``samverkan init`` makes one from an edited file
(engine.contacts); the history below the forms is read from the plan versions.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import HTMLResponse, Response

from engine.api import commands, pages_units
from engine.contacts import UnitFormInvalid
from rules.errors import InvalidValue, SamverkanError
from web.http import Ctx, Web, error_text, flash, page, redirect, render, switch, wanted_agreement

# The engine's name for a value (InvalidValue.field) → the form field it is shown beside.
FIELDS = {"name": "namn", "email": "epost", "contact_name": "kontaktperson"}


def _units_page(
    web: Web,
    ctx: Ctx,
    *,
    status: int = 200,
    which: str = "",
    errors: dict[str, str] | None = None,
    message: str | None = None,
) -> HTMLResponse:
    shown = pages_units.units_page(web.engine, wanted_agreement(ctx))
    return render(
        web,
        ctx,
        "units.html",
        status,
        **switch(shown.choice),
        units=shown.units,
        history=shown.history,
        which=which,
        errors=errors or {},
        message=message,
        f=ctx.form,
    )


@page(roles=("owner",))
def units(web: Web, ctx: Ctx) -> Response:
    return _units_page(web, ctx)


@page(roles=("owner",))
def change(web: Web, ctx: Ctx) -> Response:
    unit = ctx.form.get("enhet", "")
    shown = pages_units.units_page(web.engine, wanted_agreement(ctx))
    if shown.choice.chosen is None:
        return _units_page(web, ctx, status=400, message="Ingen överenskommelse är inläst.")
    try:
        changed = commands.change_unit(
            web.engine,
            shown.choice.chosen.id,
            unit,
            name=ctx.form.get("namn", ""),
            email=ctx.form.get("epost", ""),
            contact_name=ctx.form.get("kontaktperson"),  # absent: kept as it is
            by=ctx.me.label,
            now=ctx.now,
        )
    except UnitFormInvalid as exc:
        errors = {FIELDS[k]: _sentence(p.message) for k, p in exc.problems.items()}
        return _units_page(web, ctx, status=400, which=unit, errors=errors)
    except InvalidValue as exc:
        if exc.field in FIELDS:
            return _units_page(web, ctx, status=400, which=unit, errors={FIELDS[exc.field]: _sentence(exc.message)})
        return _units_page(web, ctx, status=400, which=unit, message=_sentence(exc.message))
    except SamverkanError as exc:
        return _units_page(web, ctx, status=400, which=unit, message=error_text(exc) + ".")
    if not changed.changes:
        flash(ctx.request, f"{changed.new_name} hade redan de uppgifterna; inget ändrades.")
    else:
        moved = f" {changed.moved} köade utskick går nu till {changed.new_email}." if changed.moved else ""
        flash(
            ctx.request,
            f"{changed.new_name} är ändrad: planversion {changed.plan_version} ({'; '.join(changed.changes)}).{moved}",
        )
    return redirect("/enheter?" + urlencode({"overenskommelse": changed.agreement}))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
