"""The web's HTTP plumbing: what every page shares, and nothing any one page decides.

``Web`` holds what the application was built with; ``Ctx`` is one request as a page
sees it. Every page is a plain function ``(Web, Ctx) -> Response`` run in a worker
thread (the engine and the dispatcher are synchronous; the dispatcher runs its own
event loop); the ``page`` decorator reads the form, loads the signed-in user, and
checks sign-in, role and the CSRF token before the function runs. ``render`` fills a
template from web/templates with what every page needs; ``SecurityHeaders`` (the
outermost middleware) adds the security headers to every response.

A POST's body is the last thing read: sign-in, role, the declared size and, for an
upload, the CSRF token (in the form's address, ``?csrf=``) are checked from the head
alone, so nobody who may not post makes the server read, or spool to disk, a byte of
it; what is read is cut off at the page's cap (``FORM_MAX``, ``UPLOAD_BODY_MAX``), also
when the body comes without a Content-Length.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine import agreement_yaml, db
from engine.api import pages
from engine.api.pages_agreement import AgreementChoice
from engine.clock import Clock
from engine.db import Database
from engine.users import Person
from notifications.context import LinkMaker
from notifications.links import InboxLinkMaker
from notifications.render import FILTERS, ZONED_FILTERS
from notifications.report_files import RenderedReports
from notifications.settings import Settings
from notifications.states import STATE_COLOUR, state_css
from rules import texts
from rules.errors import AgreementFileError, InvalidValue, SamverkanError
from web.oidc import SingleSignOn

UPLOAD_MAX = agreement_yaml.FILE_MAX  # the engine's own cap on an agreement file (a few tens of kB in practice)
# The whole body of the upload form: the file, its multipart framing and the form's other fields.
UPLOAD_BODY_MAX = UPLOAD_MAX + 64 * 1024
# Any other form: the longest, a follow-up with its comment and text measures, is a few kB.
FORM_MAX = 64 * 1024
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


log = logging.getLogger("samverkan.web")


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
    sso: SingleSignOn | None = None  # sign-in with an OpenID Connect provider, when configured
    # The report files rendered so far, by what they were made from (the PDF takes seconds).
    rendered: RenderedReports = field(default_factory=RenderedReports)


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


def same_token(expected: str, given: str) -> bool:
    """Constant-time comparison of two tokens; any text may be given (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass"))


# -- security headers ------------------------------------------------------------------------


def _cache_control(path: str, status: int) -> str:
    # Pages show one person's data and the follow-up link is a credential: never stored. The
    # stylesheet is the same for everyone, so a browser may keep it, but asks again (ETag)
    # each time, so a new version is seen at once.
    return "no-cache" if path.startswith("/static/") and status in (200, 304) else "no-store"


def harden(response: Response) -> Response:
    """The security headers on one response object (the 500 page, built outside the middleware)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


class SecurityHeaders:
    """Pure ASGI middleware: the security headers on every response that passes through it.

    It sits outside the routes, the session and the error handlers for 404 and 405, so
    redirects, static files and error pages get the same headers as pages. A page may
    set its own (the printable report's CSP); what it sets is kept.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]

        async def hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Cache-Control", _cache_control(path, message["status"]))
            await send(message)

        await self.app(scope, receive, hardened)


# -- the page decorator ----------------------------------------------------------------------


class BodyTooLarge(Exception):
    """A request body that grew past its page's cap while it was read."""


def _capped(receive: Receive, cap: int) -> Receive:
    """``receive`` that stops the read once more than ``cap`` bytes of body have come."""
    seen = 0

    async def capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > cap:
                raise BodyTooLarge
        return message

    return capped


def page(
    *,
    login: bool = True,
    roles: tuple[str, ...] | None = None,
    csrf: bool = True,
    upload: bool = False,
    max_bytes: int | None = None,
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A page: ``login`` and ``roles`` who may open it, ``csrf`` whether a POST needs the form's
    token, ``upload`` whether it takes a file (multipart, up to UPLOAD_MAX; its token then
    comes in the form's address, so it is checked before the body is read). ``max_bytes``: a
    page's own cap on the file (an upload) or the form, instead of UPLOAD_MAX or FORM_MAX."""
    file_max = (max_bytes or UPLOAD_MAX) if upload else 0
    cap = file_max + (UPLOAD_BODY_MAX - UPLOAD_MAX) if upload else (max_bytes or FORM_MAX)

    def wrap(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            web: Web = request.app.state.web
            ctx, refusal = await run_in_threadpool(
                _before_body, web, request, login, roles, csrf and upload, cap, file_max
            )
            if refusal is not None:
                return refusal
            if request.method == "POST":
                try:
                    await _read_form(Request(request.scope, _capped(request.receive, cap)), ctx, file_max)
                except BodyTooLarge:
                    return _unread(await run_in_threadpool(_too_large, web, ctx, file_max, cap))
            return await run_in_threadpool(_run, web, fn, ctx, csrf and not upload)

        endpoint.__name__ = fn.__name__
        return endpoint

    return wrap


async def _read_form(request: Request, ctx: Ctx, file_max: int) -> None:
    data = await request.form(max_files=2 if file_max else 0, max_fields=500)
    try:
        for key, value in data.multi_items():
            if isinstance(value, UploadFile):
                content = await value.read(file_max + 1)
                ctx.files[key] = (value.filename or "fil", content)
            else:
                ctx.multi.setdefault(key, []).append(value)
                ctx.form.setdefault(key, value)
    finally:
        await data.close()


def _unread(response: Response) -> Response:
    """A refusal of a POST whose body is left unread: the connection is closed after it, not kept for the rest."""
    response.headers["Connection"] = "close"
    return response


def _declared_length(request: Request) -> int:
    value = request.headers.get("content-length", "0")
    return int(value) if value.isdigit() else 0  # the server refuses a malformed one before it gets here


def _before_body(
    web: Web,
    request: Request,
    login: bool,
    roles: tuple[str, ...] | None,
    query_csrf: bool,
    cap: int,
    file_max: int,
) -> tuple[Ctx, Response | None]:
    """What can be decided from the request's head: who asks, may they, and (a POST) is it too big or forged."""
    ctx = Ctx(request=request, user=current_user(web, request), now=web.clock.now())
    posted = request.method == "POST"
    if login and ctx.user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query and not posted else "")
        answer: Response = redirect("/logga-in?" + urlencode({"nasta": target}))
    elif roles is not None and (ctx.user is None or ctx.user.role not in roles):
        answer = message_page(
            web,
            ctx,
            403,
            "Ingen behörighet",
            "Sidan är inte tillgänglig för din roll. Fråga processägaren om du behöver den.",
        )
    elif posted and _declared_length(request) > cap:
        answer = _too_large(web, ctx, file_max, cap)
    elif posted and query_csrf and not _csrf_ok(request, request.query_params.get("csrf", "")):
        answer = _expired_form(web, ctx)
    else:
        return ctx, None
    return ctx, _unread(answer) if posted else answer


def _run(web: Web, fn: Handler, ctx: Ctx, form_csrf: bool) -> Response:
    if ctx.request.method == "POST" and form_csrf and not _csrf_ok(ctx.request, ctx.form.get("csrf", "")):
        return _expired_form(web, ctx)
    try:
        return fn(web, ctx)
    except Exception as exc:
        # A read-only or unreachable database fails only at the first write, deep in a
        # command, after the transaction rolled back: the operator's to fix, not a bug.
        refused = db.refusal(exc, str(web.engine.url))
        if refused is None:
            raise
        log.warning("%s %s: %s", ctx.request.method, ctx.request.url.path, refused)
        return message_page(
            web,
            ctx,
            503,
            "Det gick inte att spara",
            "Databasen tar inte emot ändringar just nu (den är skrivskyddad eller otillgänglig). "
            "Inget har sparats. Försök igen senare, och säg till den som driftar samverkan.",
        )


def _csrf_ok(request: Request, given: str) -> bool:
    expected = request.session.get("csrf")
    return isinstance(expected, str) and same_token(expected, given)


def _expired_form(web: Web, ctx: Ctx) -> HTMLResponse:
    return message_page(
        web,
        ctx,
        403,
        "Formuläret har gått ut",
        "Formuläret kunde inte kontrolleras (det kan ha legat öppet för länge). "
        "Ladda om sidan och försök igen. Inget har sparats.",
    )


def _too_large(web: Web, ctx: Ctx, file_max: int, cap: int) -> HTMLResponse:
    """``file_max``: the page's cap on an uploaded file (0: a form, whose whole body is capped at ``cap``)."""
    if file_max == UPLOAD_MAX:
        title, text = "Filen är för stor", f"En överenskommelsefil får vara högst {UPLOAD_MAX // 1024 // 1024} MB."
    elif file_max:
        title, text = "Filen är för stor", f"Filen får vara högst {file_max // 1024 // 1024} MB."
    else:
        title, text = "Formuläret är för stort", f"Sidan tar emot högst {cap // 1024} kB. Korta texten."
    return message_page(web, ctx, 413, title, text + " Inget har sparats.")


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
