"""A party's changed conditions and its termination of the agreement, told to the other party at once."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlencode

from starlette.responses import HTMLResponse, Response

from engine.api import commands, pages_agreement
from notifications.dispatcher import deliver
from notifications.render import FILTERS
from rules.errors import InvalidValue, SamverkanError
from rules.model import QueueNotice
from web.http import Ctx, Web, error_text, flash, message_page, page, redirect, render, switch, wanted_agreement


@page(roles=("owner", "party"))
def parties(web: Web, ctx: Ctx) -> Response:
    return _parties_page(web, ctx)


# The engine's name for a value (InvalidValue.field) → the form field it is shown beside.
FIELDS = {"party": "part", "text": "text", "reason": "text", "effective": "fran"}


def _parties_page(
    web: Web, ctx: Ctx, *, status: int = 200, error: str | None = None, which: str = "", field: str | None = None
) -> HTMLResponse:
    """The page; after a refusal, ``error`` beside the form ``field`` it is about (None: the whole form)."""
    shown = pages_agreement.parties_page(web.engine, wanted_agreement(ctx), who=ctx.me)
    return render(
        web,
        ctx,
        "parties.html",
        status,
        **switch(shown.choice),
        parties=shown.parties,
        active=shown.active,
        events=shown.events,
        error=error,
        errors={field: error} if field and error else {},
        which=which,
        f=ctx.form,
        chosen=set(ctx.multi.get("atagande", [])),
        min_date=ctx.now.date().isoformat(),
    )


def _deliver_now(web: Web, now: datetime) -> str:
    try:
        r = deliver(web.engine, now, web.settings, link=web.link, inbox=web.inbox)
    except Exception as exc:  # the record stands; `samverkan run` sends what is left
        return f"Meddelandet kunde inte skickas nu ({str(exc).splitlines()[0]}); det skickas vid nästa utskick."
    if r.failed:
        return "Meddelandet kunde inte levereras; processägaren får veta det i genomgången."
    if r.retried:
        return "E-postservern svarar inte just nu; meddelandet skickas så snart den gör det."
    return "Meddelandet har skickats."


def _speaker(web: Web, ctx: Ctx, which: str) -> tuple[str, str | None] | HTMLResponse:
    party = ctx.form.get("part", "")
    if not party:
        return _parties_page(web, ctx, status=400, error="Välj vilken part som meddelar.", which=which, field="part")
    if not ctx.me.may_speak_for(party):
        return message_page(web, ctx, 403, "Ingen behörighet", "Du kan bara meddela för din egen part.")
    return party, ctx.form.get("overenskommelse") or None


@page(roles=("owner", "party"))
def notify_change(web: Web, ctx: Ctx) -> Response:
    who = _speaker(web, ctx, "change")
    if isinstance(who, HTMLResponse):
        return who
    party, aid = who
    try:
        told = commands.notify_change(
            web.engine,
            party=party,
            text=ctx.form.get("text", ""),
            by=ctx.me.label,
            now=ctx.now,
            commitments=ctx.multi.get("atagande", []),
            agreement=aid,
        )
    except SamverkanError as exc:
        return _refused(web, ctx, exc, "change")
    recipients = _recipients(told.queued, "change_notice")
    sent = _deliver_now(web, ctx.now)
    flash(ctx.request, f"Ändrade förutsättningar registrerade och meddelade till {', '.join(recipients)}. {sent}")
    return redirect("/parter?" + urlencode({"overenskommelse": told.agreement}))


@page(roles=("owner", "party"))
def terminate(web: Web, ctx: Ctx) -> Response:
    who = _speaker(web, ctx, "terminate")
    if isinstance(who, HTMLResponse):
        return who
    party, aid = who
    try:
        effective = date.fromisoformat(ctx.form.get("fran", "").strip())
    except ValueError:
        error = "Ange från vilket datum uppsägningen gäller."
        return _parties_page(web, ctx, status=400, error=error, which="terminate", field="fran")
    if ctx.form.get("bekrafta") != "ja":
        return _parties_page(
            web,
            ctx,
            status=400,
            error="Bekräfta att överenskommelsen ska sägas upp.",
            which="terminate",
            field="bekrafta",
        )
    try:
        told = commands.terminate(
            web.engine,
            party=party,
            effective=effective,
            reason=ctx.form.get("text", ""),
            by=ctx.me.label,
            now=ctx.now,
            agreement=aid,
        )
    except SamverkanError as exc:
        return _refused(web, ctx, exc, "terminate")
    recipients = _recipients(told.queued, "termination_notice")
    sent = _deliver_now(web, ctx.now)
    flash(
        ctx.request,
        f"Uppsägningen är registrerad: alla åtaganden avslutas {FILTERS['datum'](effective)}. "
        f"Meddelad till {', '.join(recipients)}. {sent}",
    )
    return redirect("/parter?" + urlencode({"overenskommelse": told.agreement}))


def _refused(web: Web, ctx: Ctx, exc: SamverkanError, which: str) -> HTMLResponse:
    field = FIELDS.get(exc.field) if isinstance(exc, InvalidValue) else None
    return _parties_page(web, ctx, status=400, error=error_text(exc), which=which, field=field)


def _recipients(queued: tuple[QueueNotice, ...], kind: str) -> list[str]:
    """Whom the command's notice of ``kind`` goes to: the command says what it queued."""
    return [r for n in queued if n.kind == kind for r in n.recipients]
