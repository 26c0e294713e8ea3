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
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.responses import HTMLResponse, Response

from engine.api import commands, pages
from engine.api.pages import CommitmentPage, Refused
from notifications.links import (
    INBOX_PATH,
    LinkExpired,
    LinkInvalid,
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
        return _form(web, ctx, data, forms.empty_form(data.measures), action=ctx.request.url.path, csrf=None)
    form, values, hours = forms.read_form(data.measures, ctx.form, ask_name=False)
    if form.invalid:
        return _form(web, ctx, data, form, action=ctx.request.url.path, csrf=None, status=400)
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
        return _form(web, ctx, data, form, action=ctx.request.url.path, csrf=None, status=400)
    flash(ctx.request, f"Uppföljningen för {data.c.period} är registrerad. Tack!")
    return redirect(f"/atagande/{quote(data.c.id)}")


def _form(
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
) -> HTMLResponse:
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
    except LinkInvalid:
        return invalid_link(web, ctx)
    except LinkExpired as exc:
        return expired_link(web, ctx, _owner_of(web, exc.claim.commitment))
    state = pages.follow_up_link(web.engine, claim.commitment, claim.period, now=ctx.now)
    data, done = state.page, state.done
    if done is not None:
        who = without_email(done.by)
        if ctx.query("klar") == "1":
            agreement = data.agreement if data else None
            return render(web, ctx, "link_done.html", p=data, f=done, by=who, agreement=agreement)
        when = done.recorded_at
        zone = ZoneInfo(data.agreement.timezone) if data is not None else texts.DEFAULT_ZONE
        return message_page(
            web,
            ctx,
            410,
            "Uppföljningen är redan registrerad",
            f"Uppföljningen för {claim.period} registrerades {texts.datumtid(when, zone)}"
            + (f" av {who}. " if who else ". ")
            + "Länken kan bara användas en gång. Behöver något rättas, kontakta processägaren.",
            home=False,
        )
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
    bound = form_token(web.secret, token)
    mine = _mine(web, ctx, data.unit.email)
    back = INBOX_PATH + quote(mine, safe="") if mine else None
    action = ctx.request.url.path + (f"?mina={quote(mine, safe='')}" if mine else "")
    if ctx.request.method == "GET":
        form = forms.empty_form(data.measures)
        return _form(web, ctx, data, form, action=action, csrf=bound, via_link=True, back=back)
    if not same_token(bound, ctx.form.get("csrf", "")):
        return message_page(
            web, ctx, 403, "Formuläret kunde inte kontrolleras", "Öppna länken i e-postmeddelandet igen.", home=False
        )
    form, values, hours = forms.read_form(data.measures, ctx.form, ask_name=True)
    if form.invalid:
        return _form(web, ctx, data, form, action=action, csrf=bound, status=400, via_link=True, back=back)
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
        if raced is not None:
            return redirect(action)  # recorded by someone else meanwhile: the "already recorded" page
        forms.refused(form, exc, error_text(exc))
        return _form(web, ctx, data, form, action=action, csrf=bound, status=400, via_link=True, back=back)
    if back is not None:
        flash(ctx.request, f"Tack! Uppföljningen för {claim.period} av {data.effort.title} är registrerad.")
        return redirect(back)
    return redirect(action + "?klar=1")


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
