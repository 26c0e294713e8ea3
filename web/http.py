"""The web's HTTP plumbing: what every page shares, and nothing any one page decides.

``Web`` holds what the application was built with; ``Ctx`` is one request as a page
sees it. Every page is a plain function ``(Web, Ctx) -> Response`` run in a worker
thread (the engine and the dispatcher are synchronous; the dispatcher runs its own
event loop); the ``page`` decorator reads the form, loads the signed-in user, and
checks sign-in, role and the CSRF token before the function runs. ``render`` fills a
template from web/templates with what every page needs; ``harden`` adds the security
headers to every response.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from engine.api import pages
from engine.api.pages_agreement import AgreementChoice
from engine.clock import Clock
from engine.db import Database
from engine.users import Person
from notifications.context import LinkMaker
from notifications.links import InboxLinkMaker
from notifications.render import FILTERS, ZONED_FILTERS
from notifications.settings import Settings
from notifications.states import STATE_COLOUR, state_css
from rules import texts
from rules.errors import AgreementFileError, InvalidValue, SamverkanError

UPLOAD_MAX = 1024 * 1024  # an agreement file is a few tens of kB
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The follow-up link is a credential: never hand it on in a Referer header.
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def error_text(exc: SamverkanError) -> str:
    """An engine error as a sentence for a form (without the CLI's "--flag:" prefix)."""
    if isinstance(exc, AgreementFileError):
        return "; ".join(exc.lines())
    text = exc.message if isinstance(exc, InvalidValue) else str(exc)
    return text[:1].upper() + text[1:]


@dataclass
class Web:
    """What every page needs: the database, delivery settings, the clock and the secret."""

    engine: Database
    settings: Settings
    clock: Clock
    secret: str
    lifetime: timedelta
    link: LinkMaker | None
    env: jinja2.Environment
    inbox: InboxLinkMaker | None = None


@dataclass
class Ctx:
    request: Request
    user: Person | None
    now: datetime
    form: dict[str, str] = field(default_factory=dict)
    multi: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    @property
    def me(self) -> Person:
        assert self.user is not None
        return self.user

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)


Handler = Callable[[Web, Ctx], Response]


# -- rendering -------------------------------------------------------------------------------


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(files("web") / "templates"), encoding="utf-8"),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    env.filters.update(ZONED_FILTERS)  # a page naming its ``agreement`` shows instants in that agreement's zone
    env.filters["slag"] = texts.kind_name
    env.filters["overgang"] = lambda t: texts.name(texts.TRIGGER_NAMES, t)
    env.filters["utskick"] = lambda s: texts.name(texts.OUTBOX_STATE_NAMES, s)
    env.filters["tillstand_css"] = state_css
    env.filters["dagar_kvar"] = texts.days_left
    env.globals["STATE_COLOUR"] = STATE_COLOUR
    return env


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def flash(request: Request, text: str, kind: str = "ok") -> None:
    request.session.setdefault("flash", []).append([kind, text])


def render(web: Web, ctx: Ctx, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    messages = ctx.request.session.pop("flash", [])
    html = web.env.get_template(template).render(
        user=ctx.user,
        csrf=csrf_token(ctx.request),
        path=ctx.request.url.path,
        messages=messages,
        today=ctx.now,
        **values,
    )
    return HTMLResponse(html, status_code=status)


def message_page(
    web: Web, ctx: Ctx, status: int, title: str, text: str, *, detail: str | None = None, home: bool = True
) -> HTMLResponse:
    return render(web, ctx, "message.html", status, title=title, text=text, detail=detail, home=home)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def harden(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


# -- the page decorator ----------------------------------------------------------------------


def page(
    *, login: bool = True, roles: tuple[str, ...] | None = None, csrf: bool = True
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    def wrap(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            web: Web = request.app.state.web
            form: dict[str, str] = {}
            multi: dict[str, list[str]] = {}
            uploads: dict[str, tuple[str, bytes]] = {}
            if request.method == "POST":
                data = await request.form(max_files=2, max_fields=500)
                for key, value in data.multi_items():
                    if isinstance(value, UploadFile):
                        content = await value.read(UPLOAD_MAX + 1)
                        uploads[key] = (value.filename or "fil", content)
                    else:
                        multi.setdefault(key, []).append(value)
                        form.setdefault(key, value)
                await data.close()
            return harden(await run_in_threadpool(_run, web, fn, request, form, multi, uploads, login, roles, csrf))

        endpoint.__name__ = fn.__name__
        return endpoint

    return wrap


def _run(
    web: Web,
    fn: Handler,
    request: Request,
    form: dict[str, str],
    multi: dict[str, list[str]],
    uploads: dict[str, tuple[str, bytes]],
    login: bool,
    roles: tuple[str, ...] | None,
    csrf: bool,
) -> Response:
    ctx = Ctx(request=request, user=current_user(web, request), now=web.clock.now(), form=form, multi=multi)
    ctx.files = uploads
    if login and ctx.user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect("/logga-in?" + urlencode({"nasta": target}))
    if roles is not None and (ctx.user is None or ctx.user.role not in roles):
        return message_page(
            web,
            ctx,
            403,
            "Ingen behörighet",
            "Sidan är inte tillgänglig för din roll. Fråga processägaren om du behöver den.",
        )
    if request.method == "POST" and csrf:
        expected = request.session.get("csrf")
        given = form.get("csrf", "")
        if not isinstance(expected, str) or not hmac.compare_digest(expected, given):
            return message_page(
                web,
                ctx,
                403,
                "Formuläret har gått ut",
                "Formuläret kunde inte kontrolleras (det kan ha legat öppet för länge). "
                "Ladda om sidan och försök igen. Inget har sparats.",
            )
    return fn(web, ctx)


def current_user(web: Web, request: Request) -> Person | None:
    """The signed-in person, checked against the database on every request.

    The cookie carries the user's session version; sign-out, a new password and removal
    change it, so a cookie saved before any of them opens nothing. Such a session loses
    its sign-in (and keeps its CSRF token and messages, so the page it gets still works).
    """
    uid = request.session.get("uid")
    version = request.session.get("sv")
    if uid is None:
        return None
    who = pages.signed_in(web.engine, uid, version) if isinstance(uid, int) and isinstance(version, int) else None
    if who is None:
        request.session.pop("uid", None)
        request.session.pop("sv", None)
    return who


# -- pages over one agreement ----------------------------------------------------------------


def wanted_agreement(ctx: Ctx) -> str | None:
    """The agreement a page over one agreement was asked for (the form's, else the address's)."""
    return ctx.form.get("overenskommelse") or ctx.query("overenskommelse") or None


def switch(choice: AgreementChoice) -> dict[str, Any]:
    """What _switch.html and the page heads read: the agreement shown and the ones to switch to."""
    return {"agreement": choice.chosen, "agreements": choice.agreements}
