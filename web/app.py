"""The web application: Starlette routes over the same engine API the CLI calls.

``create_app(engine, settings, clock=...)`` builds it: the routes to the pages in
web/pages, the session middleware, and the Swedish error pages. Nothing in the web
decides anything the engine decides: what a page shows comes from the engine's read
models (``engine.api.pages``, ``engine.api.pages_agreement``, ``engine.api.pages_mine``)
and what it changes goes through ``engine.api.commands``; the web opens no session and
sends no SQL.
"""

from __future__ import annotations

from datetime import timedelta
from importlib.resources import files

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.keys import load_secret
from notifications.links import base_url_for, inbox_link_maker, link_lifetime, link_maker
from notifications.settings import Settings
from web.http import Ctx, SecurityHeaders, Web, current_user, environment, harden, message_page
from web.oidc import single_sign_on
from web.pages import (
    accessibility,
    account,
    auth,
    corrections,
    dashboard,
    extensions,
    followup,
    importing,
    mine,
    parties,
    reports,
    revision,
    revision_draft,
    sso,
    units,
    users,
)
from web.throttle import SignInLimits, SignInThrottle

SESSION_COOKIE = "samverkan_session"
# Behind https the browser keeps a __Host- cookie only if it is Secure, has Path=/ and no
# Domain: no other host of the domain (and no plain-http page) can set or shadow it.
HOST_SESSION_COOKIE = "__Host-" + SESSION_COOKIE
SESSION_HOURS = 12


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    titles = {
        404: ("Sidan finns inte", "Adressen leder ingenstans. Gå till översikten och välj därifrån."),
        405: ("Det går inte att göra så", "Sidan tar inte emot den sortens anrop."),
    }
    title, text = titles.get(status, ("Något gick fel", "Sidan kunde inte visas. Försök igen om en stund."))
    return await run_in_threadpool(_error_page, request, status, title, text)


async def _server_error(request: Request, exc: Exception) -> Response:
    # Starlette answers a bug from its outermost layer, outside the middleware list, so
    # SecurityHeaders never sees this response: it gets the same headers here.
    return harden(
        await run_in_threadpool(
            _error_page,
            request,
            500,
            "Något gick fel",
            "Ett oväntat fel inträffade och inget sparades. Försök igen, och kontakta processägaren om felet kvarstår.",
        )
    )


def _error_page(request: Request, status: int, title: str, text: str) -> Response:
    web: Web = request.app.state.web
    try:
        user = current_user(web, request) if "session" in request.scope else None
    except Exception:
        user = None
    ctx = Ctx(request=request, user=user, now=web.clock.now())
    if "session" not in request.scope:
        return HTMLResponse(f"<!doctype html><title>{title}</title><p>{text}</p>", status_code=status)
    return message_page(web, ctx, status, title, text)


async def _health(request: Request) -> Response:
    return PlainTextResponse("ok")


def create_app(
    engine: Database,
    settings: Settings,
    clock: Clock | None = None,
    *,
    secret: str | None = None,
    lifetime: timedelta | None = None,
    secure_cookies: bool | None = None,
    sign_in: SignInLimits | None = None,
) -> Starlette:
    """The web application over ``engine``; ``clock`` is read once per request.

    ``sign_in``: the password-guessing limits (default: from the environment, else
    ``SignInLimits()``'s).
    """
    key = secret or load_secret(engine)
    base = base_url_for(settings)
    web = Web(
        engine=engine,
        settings=settings,
        clock=clock or SystemClock(),
        secret=key,
        lifetime=lifetime or link_lifetime(),
        link=link_maker(base, key) if base else None,
        env=environment(),
        inbox=inbox_link_maker(base, key) if base else None,
        sso=single_sign_on(settings.oidc, base) if settings.oidc is not None else None,
    )
    https = secure_cookies if secure_cookies is not None else bool(base and base.startswith("https://"))
    routes = [
        Route("/", dashboard.dashboard),
        Route("/logga-in", auth.login_page, methods=["GET", "POST"]),
        Route("/tillganglighet", accessibility.statement),  # notifications.links.STATEMENT_PATH: the report links it
        Route("/logga-in/oidc", sso.begin),
        Route("/logga-in/oidc/svar", sso.callback),
        Route("/logga-ut", auth.logout, methods=["POST"]),
        Route("/konto/losenord", account.password, methods=["GET", "POST"]),
        Route("/anvandare", users.users),
        Route("/anvandare/bjud-in", users.invite, methods=["POST"]),
        Route("/anvandare/ny-inbjudan", users.invite_again, methods=["POST"]),
        Route("/anvandare/andra", users.change, methods=["POST"]),
        Route("/anvandare/avaktivera", users.deactivate, methods=["POST"]),
        Route("/anvandare/aktivera", users.reactivate, methods=["POST"]),
        Route("/anvandare/ta-bort", users.remove, methods=["POST"]),
        Route("/inbjudan/{token:str}", users.set_password, methods=["GET", "POST"]),
        Route("/forsenat", dashboard.overdue),
        Route("/forsenat/paminn", extensions.remind, methods=["POST"]),
        Route("/atagande/{cid:str}", dashboard.commitment),
        Route("/atagande/{cid:str}/uppfoljning", followup.followup, methods=["GET", "POST"]),
        Route("/atagande/{cid:str}/ratta/{period:str}", corrections.correct, methods=["GET", "POST"]),
        Route("/atagande/{cid:str}/anstand", extensions.extend, methods=["GET", "POST"]),
        Route("/uppfoljning/{token:str}", followup.link_followup, methods=["GET", "POST"]),
        Route("/mina/{token:str}", mine.mine),
        Route("/revision", revision.revision),
        Route("/revision/inled", revision.revision_start, methods=["POST"]),
        Route("/revision/beslut", revision.revision_decide, methods=["POST"]),
        Route("/revision/slutfor", revision.revision_complete, methods=["POST"]),
        Route("/revision/giltighet", revision.revision_term, methods=["POST"]),
        Route("/revision/anta", revision.revision_adopt, methods=["POST"]),
        Route("/revision/utkast.yaml", revision.draft_file),
        Route("/revision/utkast/aterstall", revision.revision_discard, methods=["POST"]),
        Route("/revision/ny-insats", revision_draft.new_effort, methods=["GET", "POST"]),
        Route("/revision/insats/{effort:str}", revision_draft.effort, methods=["GET", "POST"]),
        Route("/revision/insats/{effort:str}/ta-bort", revision_draft.drop_effort, methods=["POST"]),
        Route("/import", importing.import_form),
        Route("/import/dokument", importing.import_upload, methods=["POST"]),
        Route("/import/utkast.yaml", importing.import_download, methods=["POST"]),
        Route("/import/las-in", importing.import_load, methods=["POST"]),
        Route("/parter", parties.parties),
        Route("/parter/andrade-forutsattningar", parties.notify_change, methods=["POST"]),
        Route("/parter/uppsagning", parties.terminate, methods=["POST"]),
        Route("/enheter", units.units),
        Route("/enheter/andra", units.change, methods=["POST"]),
        Route("/rapport", reports.reports),
        Route("/rapport/analys", reports.save_analysis, methods=["POST"]),
        Route("/rapport/{year:str}.{fmt:str}", reports.report),
        Route("/kalender.ics", reports.calendar),
        Route("/plan.yaml", reports.plan_file),
        Route("/halsa", _health),
        Mount("/static", StaticFiles(directory=str(files("web") / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),  # first, so it wraps everything after it
            Middleware(
                SessionMiddleware,
                secret_key=key,
                session_cookie=HOST_SESSION_COOKIE if https else SESSION_COOKIE,
                max_age=SESSION_HOURS * 3600,
                path="/",
                same_site="lax",
                https_only=https,
                domain=None,
            ),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.web = web
    app.state.sign_in = SignInThrottle(sign_in or SignInLimits.from_environment(), web.clock)
    return app
