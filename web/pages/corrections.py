"""Correcting a recorded follow-up when signed in: ``/atagande/<id>/ratta/<period>``.

The form is the follow-up form filled in with the recorded values; what is sent becomes the
next version through ``engine.api.commands.correct_follow_up`` and the earlier stays in the
commitment's history. The process owner may correct any period at any time; the unit's
contact (or its party's) only within the unit's correction window (``correction_days`` in
the settings). The link from the mail corrects the same way (web.pages.followup).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.responses import Response

from engine.api import commands, pages_corrections
from engine.api.pages import Refused
from rules import texts
from rules.errors import NotFound, SamverkanError
from web import forms
from web.http import Ctx, Web, error_text, flash, message_page, page, redirect
from web.pages.dashboard import commitment_or_404, refused
from web.pages.followup import form_page, posted_version


@page()
def correct(web: Web, ctx: Ctx) -> Response:
    text = ctx.request.path_params["period"]
    if not text.isdigit() or len(text) != 4:
        raise HTTPException(404)
    period = int(text)
    data = commitment_or_404(web, ctx)
    if isinstance(data, Refused):
        return refused(web, ctx)
    done = next((f for f in data.follow_ups if f.period == period), None)
    try:
        shown = pages_corrections.correctable(
            web.engine, data.c.id, who=ctx.me, now=ctx.now, days=web.settings.correction_days, period=period
        ).get(period)
    except NotFound:
        raise HTTPException(404) from None
    if done is None or shown is None:
        flash(ctx.request, f"Det finns ingen uppföljning för {period} att rätta.", "fel")
        return redirect(f"/atagande/{quote(data.c.id)}")
    if not shown.may_correct:
        if not data.may_record:
            why = "Du kan bara rätta uppföljningar av åtaganden som du själv får registrera."
        else:
            why = (
                f"Uppföljningen för {period} kunde rättas av enheten till och med {texts.datum(shown.last_day)}. "
                "Nu rättar processägaren den: kontakta processägaren om något behöver ändras."
            )
        return message_page(web, ctx, 403, "Uppföljningen kan inte rättas här", why + " Inget har sparats.")
    action = ctx.request.url.path
    if ctx.request.method == "GET":
        form = forms.prefilled(data.measures, done)
        return form_page(web, ctx, data, form, action=action, csrf=None, correcting=shown, done=done)
    form, values, hours = forms.read_form(data.measures, ctx.form, ask_name=False)
    if not form.invalid:
        try:
            commands.correct_follow_up(
                web.engine,
                data.c.id,
                period=period,
                version=posted_version(ctx),
                values=values,
                comment=form.comment,
                by=ctx.me.label,
                now=ctx.now,
                hours=hours,
                who=ctx.me,
                window_days=web.settings.correction_days,
            )
        except SamverkanError as exc:
            forms.refused(form, exc, error_text(exc))
    if form.invalid:
        return form_page(web, ctx, data, form, action=action, csrf=None, status=400, correcting=shown, done=done)
    flash(ctx.request, f"Uppföljningen för {period} är rättad: version {shown.version + 1}. Den tidigare finns kvar.")
    return redirect(f"/atagande/{quote(data.c.id)}")
