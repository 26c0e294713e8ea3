"""Signing in and out.

Every password check goes through the sign-in throttle (``web.throttle``): a locked
account or address is answered 429 with the time to try again, and at most a few
checks run at once. Signing out ends every session of the user, on every device.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from engine.api import commands_users
from engine.users import Person
from web.http import Ctx, Web, csrf_token, flash, message_page, page, redirect, render
from web.throttle import Throttled, client_address, retry_text, throttle_of


def safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def start_session(request: Request, who: Person) -> None:
    """Sign ``who`` in: a new session (no fixation) carrying their session version, and a new CSRF token."""
    request.session.clear()
    request.session["uid"] = who.id
    request.session["sv"] = who.session_version
    csrf_token(request)


def _form(web: Web, ctx: Ctx, status: int = 200, *, email: str, nasta: str, error: str | None) -> Response:
    # The single sign-on button only where a provider is configured (web.oidc).
    label = web.sso.label if web.sso is not None else None
    return render(web, ctx, "login.html", status, email=email, nasta=nasta, error=error, sso_label=label)


def refused(web: Web, ctx: Ctx, exc: Throttled) -> Response:
    """The answer to a password check that was not made: 429 locked, 503 busy; both say when to retry."""
    if exc.until is None:
        answer = message_page(web, ctx, 503, "Försök igen om en stund", retry_text(exc), home=False)
    else:
        answer = message_page(web, ctx, 429, "För många inloggningsförsök", retry_text(exc), home=False)
    answer.headers["Retry-After"] = str(exc.retry_after)
    return answer


@page(login=False)
def login_page(web: Web, ctx: Ctx) -> Response:
    nxt = safe_next(ctx.form.get("nasta") or ctx.query("nasta", "/"))
    if ctx.request.method == "GET":
        if ctx.user is not None:
            return redirect(nxt)
        return _form(web, ctx, email="", nasta=nxt, error=None)
    email = ctx.form.get("email", "")
    password = ctx.form.get("losenord", "")
    try:
        who = throttle_of(ctx.request).check(
            email, client_address(ctx.request), lambda: commands_users.sign_in(web.engine, email, password)
        )
    except Throttled as exc:
        return refused(web, ctx, exc)
    if who is None:
        return _form(web, ctx, 401, email=email, nasta=nxt, error="Fel e-postadress eller lösenord. Försök igen.")
    start_session(ctx.request, who)
    return redirect(nxt)


@page()
def logout(web: Web, ctx: Ctx) -> Response:
    commands_users.sign_out(web.engine, ctx.me.id)
    ctx.request.session.clear()
    flash(ctx.request, "Du är utloggad, på alla enheter och webbläsare.")
    return redirect("/logga-in")
