"""The revision: open it, decide per commitment, complete it with the revised agreement file."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import HTMLResponse, RedirectResponse, Response

from engine.api import commands, pages_agreement
from notifications.render import FILTERS
from rules import texts
from rules.errors import AgreementFileError, InvalidValue, SamverkanError
from web.http import UPLOAD_MAX, Ctx, Web, error_text, flash, page, redirect, render, switch, wanted_agreement


@page(roles=("owner", "party"))
def revision(web: Web, ctx: Ctx) -> Response:
    return _revision_page(web, ctx)


def _revision_page(web: Web, ctx: Ctx, *, status: int = 200, errors: list[str] | None = None) -> HTMLResponse:
    shown = pages_agreement.revision_page(web.engine, wanted_agreement(ctx))
    return render(
        web,
        ctx,
        "revision.html",
        status,
        **switch(shown.choice),
        rev=shown.revision,
        rows=shown.rows,
        due=shown.due,
        undecided=shown.undecided,
        decision_sv=texts.DECISION_NAMES,
        errors=errors or [],
    )


def _back_to_revision(agreement_id: str) -> RedirectResponse:
    return redirect("/revision?" + urlencode({"overenskommelse": agreement_id}))


@page(roles=("owner",))
def revision_start(web: Web, ctx: Ctx) -> Response:
    try:
        agreement = pages_agreement.agreement_choice(web.engine, wanted_agreement(ctx)).chosen
        if agreement is None:
            raise InvalidValue("agreement", "ingen överenskommelse är inläst")
        opened = commands.open_revision(web.engine, by=ctx.me.label, now=ctx.now, agreement=agreement.id)
        aid, number = opened.agreement, opened.number
    except SamverkanError as exc:
        return _revision_page(web, ctx, status=400, errors=[error_text(exc)])
    flash(ctx.request, f"Revision {number} är inledd. Revisionsstarten skickas till parterna och processägaren.")
    return _back_to_revision(aid)


@page(roles=("owner",))
def revision_decide(web: Web, ctx: Ctx) -> Response:
    try:
        d = commands.decide(
            web.engine,
            ctx.form.get("atagande", ""),
            ctx.form.get("beslut", ""),
            text=ctx.form.get("motivering", ""),
            by=ctx.me.label,
            now=ctx.now,
        )
        aid, cid, decision = pages_agreement.agreement_of(web.engine, d.commitment), d.commitment, d.decision
    except SamverkanError as exc:
        return _revision_page(web, ctx, status=400, errors=[error_text(exc)])
    flash(ctx.request, f"{cid}: {texts.DECISION_NAMES[decision]}.")
    return _back_to_revision(aid)


@page(roles=("owner",), upload=True)
def revision_complete(web: Web, ctx: Ctx) -> Response:
    upload = ctx.files.get("fil")
    if upload is None or not upload[1]:
        return _revision_page(web, ctx, status=400, errors=["Välj den reviderade överenskommelsefilen (YAML)."])
    name, content = _shown_name(upload[0]), upload[1]
    if len(content) > UPLOAD_MAX:
        return _revision_page(
            web, ctx, status=400, errors=[f"{name}: filen är större än {UPLOAD_MAX // (1024 * 1024)} MB."]
        )
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return _revision_page(web, ctx, status=400, errors=[f"{name}: filen är inte UTF-8-text."])
    try:
        new = pages_agreement.revised_plan(text, name)
        done = commands.complete_revision(web.engine, new, by=ctx.me.label, now=ctx.now)
    except AgreementFileError as exc:
        return _revision_page(web, ctx, status=400, errors=exc.lines())
    except SamverkanError as exc:
        return _revision_page(web, ctx, status=400, errors=[error_text(exc)])
    flash(
        ctx.request,
        f"Revision {done.revision} genomförd: planversion {done.plan_version} antagen. "
        f"{len(done.reinstated)} åtaganden fortsätter, {len(done.ended)} avslutade, {len(done.added)} nya. "
        + (
            f"Nästa revision senast {FILTERS['datum'](done.next_due)}."
            if done.next_due is not None
            else "Ingen revision återstår under överenskommelsens giltighetstid."
        ),
    )
    return _back_to_revision(new.id)


def _shown_name(filename: str) -> str:
    """The uploaded file's name as the error lines show it: the browser sends what the user's
    machine calls it, so only its last part, without control characters, at most 60 characters."""
    last = filename.replace("\\", "/").rsplit("/", 1)[-1]
    printable = "".join(ch for ch in last if ch.isprintable()).strip()
    return (printable[:57] + "…" if len(printable) > 60 else printable) or "fil"
