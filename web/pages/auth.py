"""Signing in and out.

Signing out ends every session of the user, on every device.
"""

from __future__ import annotations

from starlette.responses import Response

from engine.api import commands
from web.http import Ctx, Web, csrf_token, flash, page, redirect, render


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


@page(login=False)
def login_page(web: Web, ctx: Ctx) -> Response:
    nxt = _safe_next(ctx.form.get("nasta") or ctx.query("nasta", "/"))
    if ctx.request.method == "GET":
        if ctx.user is not None:
            return redirect(nxt)
        return render(web, ctx, "login.html", email="", nasta=nxt, error=None)
    email = ctx.form.get("email", "")
    password = ctx.form.get("losenord", "")
    who = commands.sign_in(web.engine, email, password)
    if who is None:
        return render(
            web, ctx, "login.html", 401, email=email, nasta=nxt, error="Fel e-postadress eller lösenord. Försök igen."
        )
    ctx.request.session.clear()  # a new session at sign-in: no fixation
    ctx.request.session["uid"] = who.id
    ctx.request.session["sv"] = who.session_version
    csrf_token(ctx.request)
    return redirect(nxt)


@page()
def logout(web: Web, ctx: Ctx) -> Response:
    commands.sign_out(web.engine, ctx.me.id)
    ctx.request.session.clear()
    flash(ctx.request, "Du är utloggad, på alla enheter och webbläsare.")
    return redirect("/logga-in")
