"""A user's own password (the process owner's users page is web.pages.users).

A new password ends every session of that user: the session version the
cookie carries changes (``engine.users``). The user who changes the password stays
signed in here, with a new session and a new form token.
"""

from __future__ import annotations

from starlette.responses import Response

from engine.api import commands_users
from engine.users import MIN_PASSWORD
from rules.errors import InvalidValue
from web.http import Ctx, Web, csrf_token, error_text, flash, page, redirect, render
from web.pages.auth import refused
from web.throttle import Throttled, client_address, throttle_of


def _password_form(web: Web, ctx: Ctx, status: int = 200, errors: dict[str, str] | None = None) -> Response:
    """The form; after a refusal, each error by the field it is about (the error summary links to it)."""
    return render(web, ctx, "password.html", status, errors=errors or {}, min_length=MIN_PASSWORD)


@page()
def password(web: Web, ctx: Ctx) -> Response:
    if ctx.request.method == "GET":
        return _password_form(web, ctx)
    current = ctx.form.get("nuvarande", "")
    new = ctx.form.get("nytt", "")
    if new != ctx.form.get("nytt_igen", ""):
        return _password_form(web, ctx, 400, {"nytt_igen": "De två nya lösenorden är olika."})
    if len(new) < MIN_PASSWORD:
        return _password_form(web, ctx, 400, {"nytt": f"Det nya lösenordet ska vara minst {MIN_PASSWORD} tecken."})
    me = ctx.me
    try:
        version = throttle_of(ctx.request).check(
            me.email,
            client_address(ctx.request),
            lambda: commands_users.change_password(web.engine, me.id, current, new),
        )
    except Throttled as exc:
        return refused(web, ctx, exc)
    except InvalidValue as exc:
        return _password_form(web, ctx, 400, {"nytt": error_text(exc) + "."})
    if version is None:
        return _password_form(web, ctx, 401, {"nuvarande": "Det nuvarande lösenordet stämmer inte."})
    session = ctx.request.session
    session.clear()  # a new session, with the new version and a new form token
    session["uid"] = me.id
    session["sv"] = version
    csrf_token(ctx.request)
    flash(ctx.request, "Lösenordet är bytt. Du är utloggad på alla andra enheter och webbläsare.")
    return redirect("/")
