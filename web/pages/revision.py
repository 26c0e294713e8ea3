"""The revision: open it, decide every commitment in one form, set the revised plan's term, review
the plan diff of the draft and adopt it, or complete it with the revised agreement file.

The draft's efforts are edited on their own pages (web.pages.revision_draft).
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import HTMLResponse, RedirectResponse, Response

from engine.api import commands, commands_revision, pages_agreement, pages_revision
from engine.api.commands_revision import Completed, DecisionsInvalid
from engine.api.queries import RevisionRow
from engine.drafts import TERM_FIELDS, DraftInvalid
from notifications.render import FILTERS
from rules import texts
from rules.errors import AgreementFileError, InvalidValue, SamverkanError
from web.http import (
    UPLOAD_MAX,
    Ctx,
    Web,
    error_text,
    flash,
    message_page,
    page,
    redirect,
    render,
    switch,
    wanted_agreement,
)


@page(roles=("owner", "party"))
def revision(web: Web, ctx: Ctx) -> Response:
    return _revision_page(web, ctx)


def _revision_page(
    web: Web,
    ctx: Ctx,
    *,
    status: int = 200,
    errors: list[str] | None = None,
    row_errors: dict[str, tuple[str, str]] | None = None,
    term_errors: dict[str, str] | None = None,
    on_file: bool = False,
) -> HTMLResponse:
    """The page; after a refused post, what was typed is shown again (``posted``) with each error beside its field.

    ``on_file``: the ``errors`` are the uploaded file's, and the summary links to the file field.
    """
    wanted = wanted_agreement(ctx)
    shown = pages_agreement.revision_page(web.engine, wanted)
    fields, labels = _summary(shown.rows, row_errors or {}, term_errors or {})
    if on_file and errors:
        fields["fil"], labels["fil"] = "filen kan inte antas; se raderna nedan.", "Den nya överenskommelsefilen"
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
        draft=pages_revision.draft_view(web.engine, wanted) if shown.revision is not None else None,
        errors=errors or [],
        row_errors=row_errors or {},
        term_errors=term_errors or {},
        on_file=on_file and bool(errors),
        summary_fields=fields,
        summary_labels=labels,
        posted=ctx.form if status != 200 else {},
    )


# The revised plan's term as its fields are labelled (_revision_draft.html).
TERM_LABELS = {"valid_from": "Gäller från", "valid_to": "Gäller till och med", "every_years": "Revidering vart (år)"}


def _summary(
    rows: tuple[RevisionRow, ...], row_errors: dict[str, tuple[str, str]], term_errors: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The error summary's fields by element id, and their labels, in the page's order."""
    fields: dict[str, str] = {}
    labels: dict[str, str] = {}
    for row in rows:
        if (err := row_errors.get(row.c.id)) is not None:
            fid = f"{err[0]}-{row.c.id}"
            what = "Beslut" if err[0] == "beslut" else "Motivering"
            fields[fid], labels[fid] = err[1], f"{what} för {row.c.effort} ({row.c.party_name})"
    for key, label in TERM_LABELS.items():
        if key in term_errors:
            fields[f"term-{key}"], labels[f"term-{key}"] = term_errors[key], label
    return fields, labels


def chosen_agreement(web: Web, ctx: Ctx) -> str:
    agreement = pages_agreement.agreement_choice(web.engine, wanted_agreement(ctx)).chosen
    if agreement is None:
        raise InvalidValue("agreement", "ingen överenskommelse är inläst")
    return agreement.id


def _back_to_revision(agreement_id: str) -> RedirectResponse:
    return redirect("/revision?" + urlencode({"overenskommelse": agreement_id}))


@page(roles=("owner",))
def draft_file(web: Web, ctx: Ctx) -> Response:
    """The draft's next plan as an agreement file, for whoever would rather finish it in the file."""
    plan = pages_revision.draft_file(web.engine, wanted_agreement(ctx))
    if plan is None:
        return message_page(
            web, ctx, 404, "Inget utkast att hämta", "Ingen revidering pågår, eller utkastet kan inte antas som det är."
        )
    disposition = {"Content-Disposition": f'attachment; filename="{plan.agreement}-utkast-v{plan.version}.yaml"'}
    return Response(plan.text.encode("utf-8"), media_type="application/yaml; charset=utf-8", headers=disposition)


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
    flash(ctx.request, f"Revidering {number} är inledd. Revideringsstarten skickas till parterna och processägaren.")
    return _back_to_revision(aid)


@page(roles=("owner",))
def revision_decide(web: Web, ctx: Ctx) -> Response:
    """Every row of the decision form at once: one refused row, and none is recorded."""
    rows = [
        (key.removeprefix("beslut:"), value, ctx.form.get("motivering:" + key.removeprefix("beslut:"), ""))
        for key, value in ctx.form.items()
        if key.startswith("beslut:")
    ]
    try:
        aid = chosen_agreement(web, ctx)
        saved = commands_revision.decide_all(web.engine, aid, rows, by=ctx.me.label, now=ctx.now)
    except DecisionsInvalid as exc:
        row_errors = {
            cid: ("beslut" if getattr(p, "field", "") == "decision" else "motivering", error_text(p) + ".")
            for cid, p in exc.problems.items()
        }
        return _revision_page(web, ctx, status=400, row_errors=row_errors)
    except SamverkanError as exc:
        return _revision_page(web, ctx, status=400, errors=[error_text(exc)])
    flash(ctx.request, f"{len(saved)} beslut sparade." if saved else "Inga nya beslut att spara.")
    return _back_to_revision(aid)


@page(roles=("owner",))
def revision_term(web: Web, ctx: Ctx) -> Response:
    """The revised plan's term: valid from and to (empty: until further notice), the revision interval."""
    try:
        aid = chosen_agreement(web, ctx)
        values = {k: ctx.form.get(k, "") for k in TERM_FIELDS}
        commands_revision.set_draft_term(web.engine, aid, values, by=ctx.me.label, now=ctx.now)
    except DraftInvalid as exc:
        return _revision_page(web, ctx, status=400, errors=exc.general, term_errors=sentences(exc.fields))
    except SamverkanError as exc:
        return _revision_page(web, ctx, status=400, errors=[error_text(exc)])
    flash(ctx.request, "Giltighetstiden och revideringsintervallet i den reviderade planen är sparade.")
    return _back_to_revision(aid)


@page(roles=("owner",))
def revision_discard(web: Web, ctx: Ctx) -> Response:
    try:
        aid = chosen_agreement(web, ctx)
        commands_revision.discard_draft(web.engine, aid, by=ctx.me.label, now=ctx.now)
    except SamverkanError as exc:
        return _revision_page(web, ctx, status=400, errors=[error_text(exc)])
    flash(ctx.request, "Utkastet är återställt till den gällande planen.")
    return _back_to_revision(aid)


@page(roles=("owner",))
def revision_adopt(web: Web, ctx: Ctx) -> Response:
    """Complete the revision with the draft the page previewed (its digest is in the form)."""
    try:
        aid = chosen_agreement(web, ctx)
        done = commands_revision.adopt_draft(
            web.engine, aid, reviewed=ctx.form.get("granskat", ""), by=ctx.me.label, now=ctx.now
        )
    except DraftInvalid as exc:
        return _revision_page(web, ctx, status=400, errors=exc.general)
    except SamverkanError as exc:
        return _revision_page(web, ctx, status=400, errors=[error_text(exc)])
    _flash_completed(ctx, done)
    return _back_to_revision(aid)


def sentences(fields: dict[str, str]) -> dict[str, str]:
    return {k: v[:1].upper() + v[1:] + ("" if v.endswith(".") else ".") for k, v in fields.items()}


def _flash_completed(ctx: Ctx, done: Completed) -> None:
    flash(
        ctx.request,
        f"Revidering {done.revision} genomförd: planversion {done.plan_version} antagen. "
        f"{len(done.reinstated)} åtaganden fortsätter, {len(done.ended)} avslutade, {len(done.added)} nya. "
        + (
            f"Nästa revidering senast {FILTERS['datum'](done.next_due)}."
            if done.next_due is not None
            else "Ingen revidering återstår under överenskommelsens giltighetstid."
        ),
    )


@page(roles=("owner",), upload=True)
def revision_complete(web: Web, ctx: Ctx) -> Response:
    upload = ctx.files.get("fil")
    if upload is None or not upload[1]:
        return _revision_page(
            web, ctx, status=400, errors=["Välj den reviderade överenskommelsefilen (YAML)."], on_file=True
        )
    name, content = shown_name(upload[0]), upload[1]
    if len(content) > UPLOAD_MAX:
        return _revision_page(
            web, ctx, status=400, errors=[f"{name}: filen är större än {UPLOAD_MAX // (1024 * 1024)} MB."], on_file=True
        )
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return _revision_page(web, ctx, status=400, errors=[f"{name}: filen är inte UTF-8-text."], on_file=True)
    try:
        new = pages_agreement.revised_plan(text, name)
        done = commands.complete_revision(web.engine, new, by=ctx.me.label, now=ctx.now)
    except AgreementFileError as exc:
        return _revision_page(web, ctx, status=400, errors=exc.lines(), on_file=True)
    except SamverkanError as exc:
        return _revision_page(web, ctx, status=400, errors=[error_text(exc)], on_file=True)
    _flash_completed(ctx, done)
    return _back_to_revision(new.id)


def shown_name(filename: str) -> str:
    """The uploaded file's name as the error lines show it: the browser sends what the user's
    machine calls it, so only its last part, without control characters, at most 60 characters."""
    last = filename.replace("\\", "/").rsplit("/", 1)[-1]
    printable = "".join(ch for ch in last if ch.isprintable()).strip()
    return (printable[:57] + "…" if len(printable) > 60 else printable) or "fil"
