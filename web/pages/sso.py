"""Signing in with the organisation's account (OpenID Connect, web.oidc).

``/logga-in/oidc`` sends the browser to the provider; ``/logga-in/oidc/svar`` is where it
comes back. The address the provider verified must belong to an existing user: single
sign-on finds an account, it never makes one (the process owner adds users). Then the
session is the same as after a password sign-in. No password is checked, so the sign-in
throttle (web.throttle) does not count these; the provider guards its own sign-in.

Every refusal is a Swedish page with its status and no sign-in, logged (without the
code, token or secret) for whoever runs samverkan.
"""

from __future__ import annotations

import logging

from starlette.responses import Response

from engine.api import commands_users
from web import oidc
from web.http import Ctx, Web, message_page, page, redirect
from web.pages.auth import safe_next, start_session

_NEXT = "oidc_nasta"  # where to go after signing in, kept in the session across the provider's pages
log = logging.getLogger("samverkan.web.oidc")


def _not_configured(web: Web, ctx: Ctx) -> Response:
    return message_page(
        web,
        ctx,
        404,
        "Sidan finns inte",
        "Inloggning med organisationens konto är inte påslagen. Logga in med lösenord.",
    )


def _refused(web: Web, ctx: Ctx, refusal: oidc.Refused) -> Response:
    log.warning("single sign-on refused (%s): %s", refusal.status, refusal.reason)
    return message_page(web, ctx, refusal.status, refusal.title, refusal.text, home=False)


@page(login=False)
def begin(web: Web, ctx: Ctx) -> Response:
    if web.sso is None:
        return _not_configured(web, ctx)
    nxt = safe_next(ctx.query("nasta", "/"))
    if ctx.user is not None:
        return redirect(nxt)
    ctx.request.session[_NEXT] = nxt
    try:
        return oidc.begin(web.sso, ctx.request)
    except oidc.Refused as refusal:
        return _refused(web, ctx, refusal)


@page(login=False)
def callback(web: Web, ctx: Ctx) -> Response:
    if web.sso is None:
        return _not_configured(web, ctx)
    nxt = ctx.request.session.pop(_NEXT, "/")
    try:
        address = oidc.finish(web.sso, ctx.request, ctx.now)
    except oidc.Refused as refusal:
        return _refused(web, ctx, refusal)
    who = commands_users.sign_in_verified(web.engine, address)
    if who is None:
        return _refused(
            web,
            ctx,
            oidc.Refused(
                403,
                "Ingen användare i samverkan",
                f"Du är inloggad hos {web.sso.label} som {address}, men den adressen har inget konto i samverkan. "
                "Be processägaren lägga till dig som användare.",
                f"no user with the verified address {address[:320]}",
            ),
        )
    start_session(ctx.request, who)
    log.info("single sign-on: user %s signed in", who.id)
    return redirect(safe_next(nxt) if isinstance(nxt, str) else "/")
