"""Acting on a late follow-up: an extension (anstånd) of its due date, and "Påminn nu" from the review.

Both are the process owner's. The extension form is ``/atagande/<id>/anstand``, linked from
the commitment page and from each late follow-up on ``/forsenat``; "Påminn nu" posts to
``/forsenat/paminn`` for one late follow-up or for every late one of a unit, and comes back
to ``/forsenat`` saying what was queued (engine.extensions).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.responses import Response

from engine.api import commands, pages_extensions, queries
from engine.api.pages_extensions import ExtensionForm
from rules import texts
from rules.errors import InvalidValue, NotFound
from web.http import Ctx, Web, flash, page, redirect, render

# The engine's name for a value (InvalidValue.field) → the form field it is shown beside.
FIELDS = {"due": "datum", "reason": "anledning"}


@dataclass(frozen=True)
class LateUnit:
    """A unit with late follow-ups on the review: "Påminn nu" for all of them."""

    agreement: str
    unit: str
    name: str
    count: int


def overdue_page(web: Web, ctx: Ctx, *, status: int = 200, message: str = "") -> Response:
    """The overdue review (``/forsenat``); the process owner also gets its actions."""
    result = queries.overdue(web.engine, ctx.now)
    units: dict[tuple[str, str], LateUnit] = {}
    for f in result.follow_ups:
        was = units.get((f.agreement, f.unit))
        units[(f.agreement, f.unit)] = LateUnit(f.agreement, f.unit, f.unit_name, was.count + 1 if was else 1)
    return render(
        web,
        ctx,
        "overdue.html",
        status,
        r=result,
        kinds=texts.KIND_NAMES,
        units=tuple(units.values()),
        act=ctx.me.role == "owner",
        message=message,
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _form(web: Web, ctx: Ctx) -> ExtensionForm:
    try:
        return pages_extensions.extension_form(web.engine, ctx.request.path_params["cid"])
    except NotFound:
        raise HTTPException(404) from None


def _page(
    web: Web,
    ctx: Ctx,
    shown: ExtensionForm,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    message: str = "",
) -> Response:
    return render(web, ctx, "extension.html", status, x=shown, errors=errors or {}, message=message, f=ctx.form)


@page(roles=("owner",))
def extend(web: Web, ctx: Ctx) -> Response:
    shown = _form(web, ctx)
    if ctx.request.method != "POST":
        return _page(web, ctx, shown)
    errors: dict[str, str] = {}
    try:
        due = date.fromisoformat(ctx.form.get("datum", "").strip())
    except ValueError:
        errors["datum"] = "Ange den nya sista dagen som ett datum (ÅÅÅÅ-MM-DD)."
    if not ctx.form.get("anledning", "").strip():
        errors["anledning"] = "Ange varför anståndet ges."
    try:
        period = int(ctx.form.get("period", ""))
    except ValueError:
        period = -1
    if errors:
        return _page(web, ctx, shown, status=400, errors=errors)
    try:
        done = commands.grant_extension(
            web.engine,
            shown.commitment,
            period=period,
            due=due,
            reason=ctx.form.get("anledning", ""),
            by=ctx.me.label,
            now=ctx.now,
        )
    except InvalidValue as exc:
        if exc.field in FIELDS:
            return _page(web, ctx, shown, status=400, errors={FIELDS[exc.field]: _sentence(exc.message)})
        return _page(web, ctx, shown, status=400, message=_sentence(exc.message))
    moved = " (närmaste arbetsdag)" if done.moved_to_working_day else ""
    withdrawn = (
        f" {done.withdrawn} köade meddelanden om den tidigare sista dagen återkallades." if done.withdrawn else ""
    )
    flash(
        ctx.request,
        f"Anstånd för {done.period}: sista dag {texts.datum(done.previous_due)} → {texts.datum(done.due)}{moved}. "
        f"Påminnelser och försenad-notiser följer den nya dagen.{withdrawn}",
    )
    return redirect("/atagande/" + quote(done.commitment, safe=""))


@page(roles=("owner",))
def remind(web: Web, ctx: Ctx) -> Response:
    one = ctx.form.get("atagande", "").strip()
    unit = ctx.form.get("enhet", "").strip()
    try:
        done = commands.remind_now(
            web.engine,
            by=ctx.me.label,
            now=ctx.now,
            commitment=one or None,
            agreement=None if one else ctx.form.get("overenskommelse") or None,
            unit=None if one else unit,
        )
    except (InvalidValue, NotFound) as exc:
        text = exc.message if isinstance(exc, InvalidValue) else str(exc)
        return overdue_page(web, ctx, status=400, message=_sentence(text) + " Inget köades.")
    if done.queued:
        count = len(done.queued)
        what = "en försenad uppföljning" if count == 1 else f"{count} försenade uppföljningar"
        flash(ctx.request, f"Påminnelse om {what} köad till {done.unit_name}; den går ut med nästa utskick.")
    if done.already:
        count = len(done.already)
        what = "den försenade uppföljningen" if count == 1 else f"{count} av de försenade uppföljningarna"
        them = "den" if count == 1 else "dem"
        flash(
            ctx.request,
            f"{done.unit_name} har redan påmints i dag om {what}; ingen ny påminnelse köades för {them}.",
            "info",
        )
    return redirect("/forsenat")
