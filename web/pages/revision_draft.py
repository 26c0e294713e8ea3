"""The revised plan's efforts, each edited in its own form while a revision is open; a new effort added.

What is saved is the open revision's draft (engine.drafts): nothing takes effect until the
draft is adopted on /revision. A refused form is shown again as typed, each problem beside
its field, and nothing is saved.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import HTMLResponse, Response

from engine.api import commands_revision, pages_revision
from engine.drafts import DraftInvalid
from rules.errors import NotFound, SamverkanError
from web.http import Ctx, Web, error_text, flash, message_page, page, redirect, render, wanted_agreement
from web.pages.revision import chosen_agreement, sentences


def _form_page(
    web: Web,
    ctx: Ctx,
    effort: str | None,
    *,
    status: int = 200,
    fields: dict[str, str] | None = None,
    errors: list[str] | None = None,
) -> HTMLResponse:
    try:
        form = pages_revision.effort_form(web.engine, wanted_agreement(ctx), effort)
    except NotFound:
        return message_page(
            web, ctx, 404, "Insatsen finns inte", "Utkastet till den reviderade planen har ingen sådan insats."
        )
    if form is None:
        return message_page(
            web,
            ctx,
            404 if status == 200 else status,
            "Ingen revidering pågår",
            "Inled revideringen på sidan Revidering först.",
        )
    fields = fields or {}
    parties = {c.party: c.party_name for c in form.commitments}
    return render(
        web,
        ctx,
        "revision_effort.html",
        status,
        form=form,
        new=effort is None,
        fields=fields,
        errors=errors or [],
        posted=ctx.form if status != 200 else {},
        # The error summary's links: each field's element id (as the template's field macro makes it) and label.
        field_ids={key: "f-" + key.replace(".", "-") for key in fields},
        field_labels={key: _label(key, parties) for key in fields},
    )


# The form's fixed fields as their labels read (revision_effort.html).
LABELS = {
    "area": "Samverkansområde",
    "title": "Rubrik (insats/mål)",
    "id": "Id",
    "timeframe.text": "Tidsplanen i text",
    "timeframe.start": "Börjar",
    "timeframe.end": "Slutar",
    "measure.text": "Måttet",
    "measure.kind": "Typ",
    "measure.target": "Målvärde",
}


def _label(key: str, parties: dict[str, str]) -> str:
    """A field's label for the error summary: ``measures.m1.target`` → "Målvärde för m1"."""
    if key in LABELS:
        return LABELS[key]
    group, _, rest = key.partition(".")
    item, _, part = rest.rpartition(".")
    if group == "measures":
        return f"Målvärde för {item}" if part == "target" else f"Aktivitetsmått ({item})"
    if group == "commitments":
        who = parties.get(item, item)
        return f"Ansvarig enhet ({who})" if part == "responsible" else f"Åtagandet ({who})"
    return key


def _back(agreement: str, effort: str) -> Response:
    return redirect("/revision?" + urlencode({"overenskommelse": agreement}) + f"#insats-{effort}")


@page(roles=("owner",))
def effort(web: Web, ctx: Ctx) -> Response:
    effort_id = ctx.request.path_params["effort"]
    if ctx.request.method != "POST":
        return _form_page(web, ctx, effort_id)
    try:
        aid = chosen_agreement(web, ctx)
        commands_revision.edit_draft_effort(web.engine, aid, effort_id, ctx.form, by=ctx.me.label, now=ctx.now)
    except DraftInvalid as exc:
        return _form_page(web, ctx, effort_id, status=400, fields=sentences(exc.fields), errors=exc.general)
    except SamverkanError as exc:
        return _form_page(web, ctx, effort_id, status=400, errors=[error_text(exc)])
    flash(ctx.request, f"Insatsen {effort_id} är ändrad i utkastet till den reviderade planen.")
    return _back(aid, effort_id)


@page(roles=("owner",))
def new_effort(web: Web, ctx: Ctx) -> Response:
    if ctx.request.method != "POST":
        return _form_page(web, ctx, None)
    try:
        aid = chosen_agreement(web, ctx)
        commands_revision.add_draft_effort(web.engine, aid, ctx.form, by=ctx.me.label, now=ctx.now)
    except DraftInvalid as exc:
        return _form_page(web, ctx, None, status=400, fields=sentences(exc.fields), errors=exc.general)
    except SamverkanError as exc:
        return _form_page(web, ctx, None, status=400, errors=[error_text(exc)])
    flash(ctx.request, "Den nya insatsen är tillagd i utkastet till den reviderade planen.")
    return redirect("/revision?" + urlencode({"overenskommelse": aid}))


@page(roles=("owner",))
def drop_effort(web: Web, ctx: Ctx) -> Response:
    effort_id = ctx.request.path_params["effort"]
    try:
        aid = chosen_agreement(web, ctx)
        commands_revision.drop_draft_effort(web.engine, aid, effort_id, by=ctx.me.label, now=ctx.now)
    except SamverkanError as exc:
        return _form_page(web, ctx, effort_id, status=400, errors=[error_text(exc)])
    flash(ctx.request, f"Den nya insatsen {effort_id} är borttagen ur utkastet.")
    return redirect("/revision?" + urlencode({"overenskommelse": aid}))
