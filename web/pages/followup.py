"""Recording a period's follow-up: the signed-in form, and the form behind the link in a mail.

Both post to ``engine.api.commands.record_follow_up``, exactly as the CLI records one.
The link is a credential of its own (notifications.links): it needs no sign-in, names
one commitment and period, and is used up once that period is recorded, by any way.

Reached from *Mina uppföljningar* (web.pages.mine), the link carries ``?mina=`` and the
recipient's own token: when that token is valid and names the commitment's unit's
address, the form links back to the list and, once recorded, leads back there with the
thanks, so the next one can be reported at once. The way back is a path built here from
the verified token, never an address taken from the request.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.responses import HTMLResponse, Response

from engine.api import commands, pages, pages_corrections
from engine.api.pages import CommitmentPage, PeriodFollowUp, Refused
from engine.api.pages_corrections import Correctable
from notifications.links import (
    INBOX_PATH,
    LinkClaim,
    LinkExpired,
    LinkInvalid,
    LinkNotYetValid,
    form_token,
    read_inbox_token,
    read_token,
)
from rules import lifecycle, texts
from rules.errors import SamverkanError
from web import forms
from web.http import Ctx, Web, error_text, flash, message_page, page, redirect, render, same_token
from web.pages.dashboard import commitment_or_404, refused


@page()
def followup(web: Web, ctx: Ctx) -> Response:
    """The signed-in follow-up form for the commitment's current period."""
    data = commitment_or_404(web, ctx, to_record=True)
    if isinstance(data, Refused):
        return refused(web, ctx)
    if not data.recordable:
        flash(ctx.request, f"Det finns ingen uppföljning att registrera för {data.c.id} just nu.", "fel")
        return redirect(f"/atagande/{quote(data.c.id)}")
    if ctx.request.method == "GET":
        return form_page(web, ctx, data, forms.empty_form(data.measures), action=ctx.request.url.path, csrf=None)
    form, values, hours = forms.read_form(data.measures, ctx.form, ask_name=False)
    if form.invalid:
        return form_page(web, ctx, data, form, action=ctx.request.url.path, csrf=None, status=400)
    try:
        commands.record_follow_up(
            web.engine,
            data.c.id,
            period=data.c.period,
            values=values,
            comment=form.comment,
            by=ctx.me.label,
            now=ctx.now,
            hours=hours,
        )
    except SamverkanError as exc:
        forms.refused(form, exc, error_text(exc))
        return form_page(web, ctx, data, form, action=ctx.request.url.path, csrf=None, status=400)
    flash(ctx.request, f"Uppföljningen för {data.c.period} är registrerad. Tack! " + _may_correct_text(web, ctx, data))
    return redirect(f"/atagande/{quote(data.c.id)}")


def _may_correct_text(web: Web, ctx: Ctx, data: CommitmentPage) -> str:
    """What the person who just recorded a follow-up may correct, and until when (the confirmation)."""
    if ctx.me.role == "owner":
        return "Du kan rätta den här på åtagandets sida när som helst."
    shown = pages_corrections.correctable(
        web.engine, data.c.id, who=ctx.me, now=ctx.now, days=web.settings.correction_days, period=data.c.period
    ).get(data.c.period)
    if shown is None or not shown.may_correct:
        return "Behöver något rättas, kontakta processägaren."
    return (
        f"Du kan rätta den här på åtagandets sida till och med {texts.datum(shown.last_day)}; "
        "därefter rättar processägaren den."
    )


def form_page(
    web: Web,
    ctx: Ctx,
    data: CommitmentPage,
    form: forms.FollowUpForm,
    *,
    action: str,
    csrf: str | None,
    status: int = 200,
    via_link: bool = False,
    back: str | None = None,
    correcting: Correctable | None = None,
    done: PeriodFollowUp | None = None,
    until: str | None = None,
) -> HTMLResponse:
    """The follow-up form; with ``correcting`` and ``done``, the form that corrects that recorded follow-up."""
    return render(
        web,
        ctx,
        "followup.html",
        status,
        p=data,
        form=form,
        action=action,
        via_link=via_link,
        form_csrf=csrf,
        agreement=data.agreement,
        back=back,
        correcting=correcting,
        done=done,
        done_by=without_email(done.by) if done is not None and via_link else (done.by if done else None),
        owner_corrects=ctx.user is not None and ctx.user.role == "owner",
        until=until or (texts.datum(correcting.last_day) if correcting is not None else None),
    )


# -- the refusals of a link from a mail (this form's and Mina uppföljningar's) ---------------


def invalid_link(web: Web, ctx: Ctx) -> HTMLResponse:
    return message_page(
        web,
        ctx,
        404,
        "Länken fungerar inte",
        "Länken är ofullständig eller har ändrats. Öppna den direkt från e-postmeddelandet, "
        "eller kopiera hela adressen. Inget har sparats.",
        home=False,
    )


def early_link(web: Web, ctx: Ctx, issued: datetime) -> HTMLResponse:
    # The usual cause: the mail was written on a rehearsed date (``--now``) and is opened on
    # the web's real clock; "ofullständig" would send the reader looking for a typo.
    at = f"{issued.astimezone(texts.DEFAULT_ZONE):%Y-%m-%dT%H:%M}"
    return message_page(
        web,
        ctx,
        403,
        "Länken gäller inte än",
        f"Länken gäller från {texts.datumtid(issued)}. Öppna den igen då. Inget har sparats.",
        detail="Övar du med ett datum fram i tiden (--now)? Starta då webben på samma klocka: "
        f"python3 tasks.py run --from {at} eller samverkan serve --from {at}.",
        home=False,
    )


def expired_link(web: Web, ctx: Ctx, whom: str, what: str = "uppföljningen") -> HTMLResponse:
    return message_page(
        web,
        ctx,
        410,
        "Länken har gått ut",
        f"Länken gällde i {web.lifetime.days} dagar och kan inte användas längre. "
        f"Kontakta {whom} för att rapportera {what}, eller logga in.",
        home=False,
    )


# -- the follow-up link from the mail --------------------------------------------------------


@page(login=False, csrf=False)
def link_followup(web: Web, ctx: Ctx) -> Response:
    token = ctx.request.path_params["token"]
    try:
        claim = read_token(web.secret, token, now=ctx.now, lifetime=web.lifetime)
    except LinkNotYetValid as early:
        return early_link(web, ctx, early.issued)
    except LinkInvalid:
        return invalid_link(web, ctx)
    except LinkExpired as exc:
        return expired_link(web, ctx, _owner_of(web, exc.claim.commitment))
    state = pages.follow_up_link(web.engine, claim.commitment, claim.period, now=ctx.now)
    data, done = state.page, state.done
    if done is not None and data is not None:
        return _recorded(web, ctx, token, claim, data, done)
    if data is None or data.c.state != lifecycle.PAGAENDE or data.c.period != claim.period:
        if data is None:
            why = "Åtagandet finns inte längre i planen."
        elif data.c.state == lifecycle.AVSLUTAD:
            why = "Åtagandet är avslutat och följs inte upp längre."
        elif data.c.period != claim.period:
            why = f"Länken gällde uppföljningen för {claim.period}; åtagandet följs nu upp för {data.c.period}."
        else:
            why = f"Åtagandet är {data.c.state} och kan inte följas upp just nu."
        return message_page(web, ctx, 410, "Länken gäller inte längre", f"{why} Inget har sparats.", home=False)
    bound, back, action = _link_form(web, ctx, token, data)
    if ctx.request.method == "GET":
        form = forms.empty_form(data.measures)
        return form_page(web, ctx, data, form, action=action, csrf=bound, via_link=True, back=back)
    if not same_token(bound, ctx.form.get("csrf", "")):
        return message_page(
            web, ctx, 403, "Formuläret kunde inte kontrolleras", "Öppna länken i e-postmeddelandet igen.", home=False
        )
    form, values, hours = forms.read_form(data.measures, ctx.form, ask_name=True)
    if form.invalid:
        return form_page(web, ctx, data, form, action=action, csrf=bound, status=400, via_link=True, back=back)
    try:
        commands.record_follow_up(
            web.engine,
            data.c.id,
            period=claim.period,
            values=values,
            comment=form.comment,
            by=f"{form.name} ({data.unit.email}, via länk i e-post)",
            now=ctx.now,
            hours=hours,
        )
    except SamverkanError as exc:
        raced = pages.follow_up_link(web.engine, data.c.id, claim.period, now=ctx.now).done
        if raced is not None:  # recorded by someone else meanwhile
            shown = pages_corrections.correctable(
                web.engine, data.c.id, who=None, now=ctx.now, days=web.settings.correction_days, period=claim.period
            ).get(claim.period)
            until = _until(web, claim, shown, data) if shown is not None and shown.may_correct else None
            return _already(web, ctx, data, raced, until)
        forms.refused(form, exc, error_text(exc))
        return form_page(web, ctx, data, form, action=action, csrf=bound, status=400, via_link=True, back=back)
    if back is not None:
        flash(ctx.request, f"Tack! Uppföljningen för {claim.period} av {data.effort.title} är registrerad.")
        return redirect(back)
    return redirect(action + "?klar=1")


def _link_form(web: Web, ctx: Ctx, token: str, data: CommitmentPage) -> tuple[str, str | None, str]:
    """The link form's CSRF token, the way back to Mina uppföljningar (if any) and the form's action."""
    mine = _mine(web, ctx, data.unit.email)
    back = INBOX_PATH + quote(mine, safe="") if mine else None
    action = ctx.request.url.path + (f"?mina={quote(mine, safe='')}" if mine else "")
    return form_token(web.secret, token), back, action


def _recorded(web: Web, ctx: Ctx, token: str, claim: LinkClaim, data: CommitmentPage, done: PeriodFollowUp) -> Response:
    """A link whose follow-up is recorded: the receipt, the correction form while the unit's window
    is open, or a plain page saying that the process owner corrects it now."""
    period = claim.period
    shown = pages_corrections.correctable(
        web.engine, data.c.id, who=None, now=ctx.now, days=web.settings.correction_days, period=period
    ).get(period)
    open_ = shown is not None and shown.may_correct
    who = without_email(done.by)
    if ctx.query("klar") == "1":
        return render(
            web,
            ctx,
            "link_done.html",
            p=data,
            f=done,
            by=who,
            agreement=data.agreement,
            until=_until(web, claim, shown, data) if open_ and shown is not None else None,
            owner=_owner_of(web, data.c.id),
        )
    if not open_ or shown is None:
        return _already(web, ctx, data, done, None)
    bound, back, action = _link_form(web, ctx, token, data)

    def again(form: forms.FollowUpForm, status: int) -> HTMLResponse:
        return form_page(
            web,
            ctx,
            data,
            form,
            action=action,
            csrf=bound,
            status=status,
            via_link=True,
            back=back,
            correcting=shown,
            done=done,
            until=_until(web, claim, shown, data) if shown is not None else None,
        )

    if ctx.request.method == "GET":
        return again(forms.prefilled(data.measures, done), 200)
    if not same_token(bound, ctx.form.get("csrf", "")):
        return message_page(
            web, ctx, 403, "Formuläret kunde inte kontrolleras", "Öppna länken i e-postmeddelandet igen.", home=False
        )
    if "version" not in ctx.form:  # the recording form, sent again or by someone else at the same time
        return _already(web, ctx, data, done, _until(web, claim, shown, data))
    form, values, hours = forms.read_form(data.measures, ctx.form, ask_name=True)
    if form.invalid:
        return again(form, 400)
    try:
        commands.correct_follow_up(
            web.engine,
            data.c.id,
            period=period,
            version=posted_version(ctx),
            values=values,
            comment=form.comment,
            by=f"{form.name} ({data.unit.email}, via länk i e-post)",
            now=ctx.now,
            hours=hours,
            who=None,
            window_days=web.settings.correction_days,
        )
    except SamverkanError as exc:
        forms.refused(form, exc, error_text(exc))
        return again(form, 400)
    if back is not None:
        flash(ctx.request, f"Tack! Rättelsen av uppföljningen för {period} av {data.effort.title} är sparad.")
        return redirect(back)
    return redirect(action + "?klar=1")


def _already(web: Web, ctx: Ctx, data: CommitmentPage, done: PeriodFollowUp, until: str | None) -> HTMLResponse:
    """410: the period is recorded; ``until``: the link may still correct it until then, else only the owner can."""
    zone = ZoneInfo(data.agreement.timezone)
    who = without_email(done.by)
    if until is not None:
        then = (
            f"Behöver något rättas kan du göra det via länken till och med {until}: öppna den igen, "
            "så visas den registrerade uppföljningen att rätta. "
        )
    else:
        then = (
            f"Tiden då enheten själv kunde rätta den via länken är slut. Behöver något rättas, kontakta "
            f"processägaren, {_owner_of(web, data.c.id)}: processägaren rättar uppföljningen. "
        )
    return message_page(
        web,
        ctx,
        410,
        "Uppföljningen är redan registrerad",
        f"Uppföljningen för {done.period} registrerades {texts.datumtid(done.recorded_at, zone)}"
        + (f" av {who}" if who else "")
        + (f" (rättad, version {done.version})" if done.version > 1 else "")
        + ". "
        + then
        + "Inget har sparats nu.",
        home=False,
    )


def _until(web: Web, claim: LinkClaim, shown: Correctable, data: CommitmentPage) -> str:
    """Until when the link corrects: the unit's window (whole days) or the link's own end, whichever is first."""
    zone = ZoneInfo(data.agreement.timezone)
    expires = claim.issued + web.lifetime
    if expires.astimezone(zone).date() > shown.last_day:
        return texts.datum(shown.last_day)
    return texts.datumtid(expires, zone)


def posted_version(ctx: Ctx) -> int:
    """The version the correction form was opened on (0 when garbled: the engine then refuses it as changed)."""
    text = ctx.form.get("version", "").strip()
    return int(text) if text.isdigit() and len(text) < 9 else 0


_EMAIL = re.compile(r"\s*<?[^\s<>(),;]+@[^\s<>(),;]+>?(\s*,)?")


def without_email(by: str) -> str:
    """Who recorded a follow-up, as a used link shows it: the name, without any e-mail address.

    Anyone holding the link sees that page, and the address is not what the unit needs
    to know. ``by`` is free text: "Frida Fritid <fritid@…>" (signed in), "Britt (brab@…,
    via länk i e-post)" (this form), or whatever ``--by`` said (the CLI).
    """
    text = re.sub(r"\(\s*", "(", _EMAIL.sub("", by))
    text = re.sub(r"\s*\(\s*\)", "", text)
    return " ".join(text.split()).strip(" ,;")


def _mine(web: Web, ctx: Ctx, unit_email: str) -> str | None:
    """The ``mina`` parameter when it is a valid recipient's token for this commitment's unit; else None."""
    token = ctx.query("mina")
    if not token:
        return None
    try:
        claim = read_inbox_token(web.secret, token, now=ctx.now, lifetime=web.lifetime)
    except (LinkInvalid, LinkExpired):
        return None
    return token if claim.email == unit_email.strip().lower() else None


def _owner_of(web: Web, commitment_id: str) -> str:
    owner = pages.process_owner_of(web.engine, commitment_id)
    return f"{owner.name} ({owner.email})" if owner is not None else "processägaren"
