"""Start from the signed document: the owner uploads it, reads the draft agreement file and the
summary, downloads the draft, or loads it as a new agreement after confirming.

The draft is made by ``engine.importer`` (as ``samverkan import``), which reads no database;
the page keeps nothing between requests: the draft travels in the result page's forms, and
loading it checks it again as ``samverkan init`` does and loads it through the same command.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from starlette.responses import HTMLResponse, Response

from engine.agreement import parse_agreement
from engine.api import commands, pages_agreement
from engine.importer import DocumentError, draft_file
from engine.importer.document import DOCUMENT_MAX
from rules import texts
from rules.errors import AgreementFileError, SamverkanError
from web.http import UPLOAD_MAX, Ctx, Web, error_text, flash, page, redirect, render
from web.pages.revision import shown_name

DRAFT_NAME = "utkast.yaml"
# The draft comes back in a form, percent-encoded (å is six bytes): room for an agreement file
# at the engine's cap, its summary and the encoding, where other forms take 64 kB.
DRAFT_FORM_MAX = 4 * UPLOAD_MAX
ID_LINE = re.compile(r"^  id: ([^\s#]+)", re.MULTILINE)  # the agreement's: the draft's first key at that depth


def _draft_id(text: str) -> str:
    found = ID_LINE.search(text)
    return found.group(1) if found else ""


def _import_page(
    web: Web,
    ctx: Ctx,
    *,
    status: int = 200,
    errors: list[str] | None = None,
    draft: str | None = None,
    summary: list[str] | None = None,
    source: str = "",
    confirm_error: str = "",
) -> HTMLResponse:
    return render(
        web,
        ctx,
        "import.html",
        status,
        errors=errors or [],
        upload_mb=DOCUMENT_MAX // (1024 * 1024),
        draft=draft,
        summary=_sections(summary or []),
        summary_text="\n".join(summary or []),
        draft_id=_draft_id(draft or ""),
        source=source,
        confirm_error=confirm_error,
    )


@page(roles=("owner",))
def import_form(web: Web, ctx: Ctx) -> Response:
    return _import_page(web, ctx)


@page(roles=("owner",), upload=True, max_bytes=DOCUMENT_MAX)
def import_upload(web: Web, ctx: Ctx) -> Response:
    upload = ctx.files.get("dokument")
    if upload is None or not upload[1]:
        return _import_page(web, ctx, status=400, errors=["Välj överenskommelsens dokument (.docx eller text)."])
    name, content = shown_name(upload[0]), upload[1]
    if len(content) > DOCUMENT_MAX:
        too_big = f"{name}: filen är större än {DOCUMENT_MAX // 1024 // 1024} MB."
        return _import_page(web, ctx, status=400, errors=[too_big])
    try:
        imported = draft_file(content, name, agreement_id=None, today=ctx.now.astimezone(texts.DEFAULT_ZONE).date())
    except DocumentError as exc:
        return _import_page(web, ctx, status=400, errors=[f"{exc}."])  # the file's name as it is spelt
    return _import_page(web, ctx, draft=imported.text, summary=imported.summary(), source=name)


def _sections(summary: list[str]) -> dict[str, Any]:
    """The summary's lines (``Imported.summary``) as the page's headline and its three lists."""
    lists: dict[str, list[str]] = {"Hittat": [], "Gissat": [], "Kunde": []}
    current = "Hittat"
    for line in summary[1:]:
        if not line.startswith("  - "):
            current = line.split(" ", 1)[0]
            lists.setdefault(current, [])
        elif line[4:] != "inget":
            lists[current].append(line[4:])
    head = summary[0] if summary else ""
    return {"head": head, "found": lists["Hittat"], "guessed": lists["Gissat"], "unplaced": lists["Kunde"]}


def _posted(ctx: Ctx, name: str) -> str:
    # A browser sends the form's line breaks as CR LF; the file has LF, as the upload made it.
    return ctx.form.get(name, "").replace("\r\n", "\n")


@page(roles=("owner",), max_bytes=DRAFT_FORM_MAX)
def import_download(web: Web, ctx: Ctx) -> Response:
    text = _posted(ctx, "utkast")
    named = _draft_id(text)
    filename = f"{named if re.fullmatch(r'[a-z0-9-]{1,60}', named) else 'overenskommelse'}-utkast.yaml"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(text.encode("utf-8"), media_type="application/yaml; charset=utf-8", headers=disposition)


@page(roles=("owner",), max_bytes=DRAFT_FORM_MAX)
def import_load(web: Web, ctx: Ctx) -> Response:
    text, source = _posted(ctx, "utkast"), shown_name(ctx.form.get("kalla", "") or DRAFT_NAME)
    shown: dict[str, Any] = {"draft": text, "source": source, "summary": _posted(ctx, "sammanfattning").splitlines()}
    if ctx.form.get("granskat") != "ja":
        why = "Bekräfta att du har gått igenom utkastet innan det läses in."
        return _import_page(web, ctx, status=400, confirm_error=why, **shown)
    wanted = ctx.form.get("id", "").strip()
    if wanted and not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,59}", wanted):
        why = f"Ogiltigt id '{wanted}': gemener a–z, siffror och bindestreck, högst 60 tecken."
        return _import_page(web, ctx, status=400, errors=[why], **shown)
    if wanted:
        text = shown["draft"] = ID_LINE.sub(f"  id: {wanted}", text, count=1)
    try:
        agreement = parse_agreement(text, DRAFT_NAME)
        known = {a.id for a in pages_agreement.agreement_choice(web.engine, None).agreements}
        if agreement.id in known:
            taken = f"Det finns redan en överenskommelse med id '{agreement.id}'. Välj ett annat id."
            return _import_page(web, ctx, status=400, errors=[taken], **shown)
        loaded = commands.load_plan(web.engine, agreement, now=ctx.now)
    except AgreementFileError as exc:
        return _import_page(web, ctx, status=400, errors=exc.lines(), **shown)
    except SamverkanError as exc:
        return _import_page(web, ctx, status=400, errors=[error_text(exc)], **shown)
    flash(
        ctx.request,
        f"Överenskommelsen '{loaded.agreement}' är inläst: {agreement.summary()}. "
        "Byt platshållaradresserna under Enheter innan påminnelserna ska gå ut.",
    )
    return redirect("/?" + urlencode({"overenskommelse": loaded.agreement}))
