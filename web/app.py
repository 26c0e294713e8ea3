"""The web application: Starlette routes over the same engine API the CLI calls.

``create_app(engine, settings, clock=...)`` builds it. Every page is a plain function
``(Web, Ctx) -> Response`` run in a worker thread (the engine and the dispatcher are
synchronous; the dispatcher runs its own event loop); the ``page`` decorator reads
the form, loads the signed-in user, and checks sign-in, role and the CSRF token
before the function runs. Nothing here decides anything the engine decides: a
follow-up from the web is ``engine.api.commands.record_follow_up``, exactly as from the
CLI. What a page shows comes from the engine's read models (``engine.api.pages`` and
``engine.api.pages_agreement``); the web opens no session and sends no SQL.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib.resources import files
from typing import Any, Literal
from urllib.parse import quote, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from engine.api import commands, pages, pages_agreement
from engine.api.pages import CommitmentPage, Refused
from engine.api.pages_agreement import AgreementChoice
from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.keys import load_secret
from engine.report import render_report
from engine.users import Person
from notifications.calendar_export import calendar_file
from notifications.context import LinkMaker
from notifications.dispatcher import deliver
from notifications.links import (
    LinkExpired,
    LinkInvalid,
    base_url_for,
    form_token,
    link_lifetime,
    link_maker,
    read_token,
)
from notifications.render import FILTERS
from notifications.settings import Settings
from notifications.states import STATE_COLOUR, state_css
from rules import lifecycle, texts
from rules.errors import AgreementFileError, InvalidValue, NotFound, SamverkanError
from rules.model import QueueNotice
from web import forms

SESSION_COOKIE = "samverkan_session"
SESSION_HOURS = 12
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
# The yearly report is one self-contained file with inline CSS and SVG.
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"


def _message(exc: SamverkanError) -> str:
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


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(files("web") / "templates"), encoding="utf-8"),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
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


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _harden(response: Response) -> Response:
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
            return _harden(await run_in_threadpool(_run, web, fn, request, form, multi, uploads, login, roles, csrf))

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
    ctx = Ctx(request=request, user=_current_user(web, request), now=web.clock.now(), form=form, multi=multi)
    ctx.files = uploads
    if login and ctx.user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return _redirect("/logga-in?" + urlencode({"nasta": target}))
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


def _current_user(web: Web, request: Request) -> Person | None:
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        return None
    return pages.signed_in(web.engine, uid)


def _wanted(ctx: Ctx) -> str | None:
    """The agreement a page over one agreement was asked for (the form's, else the address's)."""
    return ctx.form.get("overenskommelse") or ctx.query("overenskommelse") or None


def _switch(choice: AgreementChoice) -> dict[str, Any]:
    """What _switch.html and the page heads read: the agreement shown and the ones to switch to."""
    return {"agreement": choice.chosen, "agreements": choice.agreements}


def _commitment_or_404(web: Web, ctx: Ctx, *, to_record: bool = False) -> CommitmentPage | Refused:
    try:
        return pages.commitment_page(
            web.engine, ctx.request.path_params["cid"], who=ctx.me, now=ctx.now, to_record=to_record
        )
    except NotFound:
        raise HTTPException(404) from None


# -- sign in and out -------------------------------------------------------------------------


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


@page(login=False)
def login_page(web: Web, ctx: Ctx) -> Response:
    nxt = _safe_next(ctx.form.get("nasta") or ctx.query("nasta", "/"))
    if ctx.request.method == "GET":
        if ctx.user is not None:
            return _redirect(nxt)
        return render(web, ctx, "login.html", email="", nasta=nxt, error=None)
    email = ctx.form.get("email", "")
    who = commands.sign_in(web.engine, email, ctx.form.get("losenord", ""))
    if who is None:
        return render(
            web, ctx, "login.html", 401, email=email, nasta=nxt, error="Fel e-postadress eller lösenord. Försök igen."
        )
    ctx.request.session.clear()  # a new session at sign-in: no fixation
    ctx.request.session["uid"] = who.id
    csrf_token(ctx.request)
    return _redirect(nxt)


@page()
def logout(web: Web, ctx: Ctx) -> Response:
    ctx.request.session.clear()
    flash(ctx.request, "Du är utloggad.")
    return _redirect("/logga-in")


# -- the dashboard and the review ------------------------------------------------------------


@page()
def dashboard(web: Web, ctx: Ctx) -> Response:
    shown = pages.dashboard(web.engine, ctx.me, ctx.now)
    return render(
        web, ctx, "dashboard.html", agreements=shown.agreements, unit_name=shown.unit_name, states=lifecycle.STATES
    )


@page(roles=("owner", "party"))
def overdue(web: Web, ctx: Ctx) -> Response:
    result = pages_agreement.overdue(web.engine, ctx.now)
    return render(web, ctx, "overdue.html", r=result, kinds=texts.KIND_NAMES)


# -- one commitment and its follow-up --------------------------------------------------------


@page()
def commitment(web: Web, ctx: Ctx) -> Response:
    data = _commitment_or_404(web, ctx)
    if isinstance(data, Refused):
        return _refused(web, ctx)
    return render(web, ctx, "commitment.html", p=data, may_record=data.may_record)


def _refused(web: Web, ctx: Ctx) -> Response:
    return message_page(
        web,
        ctx,
        403,
        "Ingen behörighet",
        "Det här åtagandet hör inte till din enhet. "
        "Du ser och rapporterar bara de åtaganden som din enhet ansvarar för.",
    )


@page()
def followup(web: Web, ctx: Ctx) -> Response:
    """The signed-in follow-up form for the commitment's current period."""
    data = _commitment_or_404(web, ctx, to_record=True)
    if isinstance(data, Refused):
        return _refused(web, ctx)
    if not data.recordable:
        flash(ctx.request, f"Det finns ingen uppföljning att registrera för {data.c.id} just nu.", "fel")
        return _redirect(f"/atagande/{quote(data.c.id)}")
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
        form.message = _message(exc)
        return _form(web, ctx, data, form, action=ctx.request.url.path, csrf=None, status=400)
    flash(ctx.request, f"Uppföljningen för {data.c.period} är registrerad. Tack!")
    return _redirect(f"/atagande/{quote(data.c.id)}")


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
) -> HTMLResponse:
    return render(
        web, ctx, "followup.html", status, p=data, form=form, action=action, via_link=via_link, form_csrf=csrf
    )


# -- the follow-up link from the mail --------------------------------------------------------


@page(login=False, csrf=False)
def link_followup(web: Web, ctx: Ctx) -> Response:
    token = ctx.request.path_params["token"]
    try:
        claim = read_token(web.secret, token, now=ctx.now, lifetime=web.lifetime)
    except LinkInvalid:
        return message_page(
            web,
            ctx,
            404,
            "Länken fungerar inte",
            "Länken är ofullständig eller har ändrats. Öppna den direkt från e-postmeddelandet, "
            "eller kopiera hela adressen. Inget har sparats.",
            home=False,
        )
    except LinkExpired as exc:
        owner = _owner_of(web, exc.claim.commitment)
        return message_page(
            web,
            ctx,
            410,
            "Länken har gått ut",
            f"Länken gällde i {web.lifetime.days} dagar och kan inte användas längre. "
            f"Kontakta {owner} för att rapportera uppföljningen, eller logga in.",
            home=False,
        )
    state = pages.follow_up_link(web.engine, claim.commitment, claim.period, now=ctx.now)
    data, done = state.page, state.done
    if done is not None:
        if ctx.query("klar") == "1":
            return render(web, ctx, "link_done.html", p=data, f=done)
        when = done.recorded_at
        return message_page(
            web,
            ctx,
            410,
            "Uppföljningen är redan registrerad",
            f"Uppföljningen för {claim.period} registrerades {FILTERS['datumtid'](when)} av {done.by}. "
            "Länken kan bara användas en gång. Behöver något rättas, kontakta processägaren.",
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
    action = ctx.request.url.path
    if ctx.request.method == "GET":
        return _form(web, ctx, data, forms.empty_form(data.measures), action=action, csrf=bound, via_link=True)
    if not hmac.compare_digest(ctx.form.get("csrf", ""), bound):
        return message_page(
            web, ctx, 403, "Formuläret kunde inte kontrolleras", "Öppna länken i e-postmeddelandet igen.", home=False
        )
    form, values, hours = forms.read_form(data.measures, ctx.form, ask_name=True)
    if form.invalid:
        return _form(web, ctx, data, form, action=action, csrf=bound, status=400, via_link=True)
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
            return _redirect(action)  # recorded by someone else meanwhile: the "already recorded" page
        form.message = _message(exc)
        return _form(web, ctx, data, form, action=action, csrf=bound, status=400, via_link=True)
    return _redirect(action + "?klar=1")


def _owner_of(web: Web, commitment_id: str) -> str:
    owner = pages.process_owner_of(web.engine, commitment_id)
    return f"{owner.name} ({owner.email})" if owner is not None else "processägaren"


# -- the revision ----------------------------------------------------------------------------


@page(roles=("owner", "party"))
def revision(web: Web, ctx: Ctx) -> Response:
    return _revision_page(web, ctx)


def _revision_page(web: Web, ctx: Ctx, *, status: int = 200, errors: list[str] | None = None) -> HTMLResponse:
    shown = pages_agreement.revision_page(web.engine, _wanted(ctx))
    return render(
        web,
        ctx,
        "revision.html",
        status,
        **_switch(shown.choice),
        rev=shown.revision,
        rows=shown.rows,
        due=shown.due,
        undecided=shown.undecided,
        decision_sv=texts.DECISION_NAMES,
        errors=errors or [],
    )


def _back_to_revision(agreement_id: str) -> RedirectResponse:
    return _redirect("/revision?" + urlencode({"overenskommelse": agreement_id}))


@page(roles=("owner",))
def revision_start(web: Web, ctx: Ctx) -> Response:
    try:
        agreement = pages_agreement.agreement_choice(web.engine, _wanted(ctx)).chosen
        if agreement is None:
            raise InvalidValue("agreement", "ingen överenskommelse är inläst")
        opened = commands.open_revision(web.engine, by=ctx.me.label, now=ctx.now, agreement=agreement.id)
        aid, number = opened.agreement, opened.number
    except SamverkanError as exc:
        return _revision_page(web, ctx, status=400, errors=[_message(exc)])
    flash(ctx.request, f"Revision {number} är inledd. Revisionsstarten skickas till parterna och processägaren.")
    return _back_to_revision(aid)


@page(roles=("owner",))
def revision_decide(web: Web, ctx: Ctx) -> Response:
    try:
        d = commands.decide(
            web.engine,
            ctx.form.get("atagande", ""),
            ctx.form.get("beslut", ""),
            text=ctx.form.get("motivering", ""),
            by=ctx.me.label,
            now=ctx.now,
        )
        aid, cid, decision = pages_agreement.agreement_of(web.engine, d.commitment), d.commitment, d.decision
    except SamverkanError as exc:
        return _revision_page(web, ctx, status=400, errors=[_message(exc)])
    flash(ctx.request, f"{cid}: {texts.DECISION_NAMES[decision]}.")
    return _back_to_revision(aid)


@page(roles=("owner",))
def revision_complete(web: Web, ctx: Ctx) -> Response:
    upload = ctx.files.get("fil")
    if upload is None or not upload[1]:
        return _revision_page(web, ctx, status=400, errors=["Välj den reviderade överenskommelsefilen (YAML)."])
    name, content = upload
    if len(content) > UPLOAD_MAX:
        return _revision_page(web, ctx, status=400, errors=[f"{name}: filen är större än 1 MB."])
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return _revision_page(web, ctx, status=400, errors=[f"{name}: filen är inte UTF-8-text."])
    try:
        new = pages_agreement.revised_plan(text, name)
        done = commands.complete_revision(web.engine, new, by=ctx.me.label, now=ctx.now)
    except AgreementFileError as exc:
        return _revision_page(web, ctx, status=400, errors=exc.lines())
    except SamverkanError as exc:
        return _revision_page(web, ctx, status=400, errors=[_message(exc)])
    flash(
        ctx.request,
        f"Revision {done.revision} genomförd: planversion {done.plan_version} antagen. "
        f"{len(done.reinstated)} åtaganden fortsätter, {len(done.ended)} avslutade, {len(done.added)} nya. "
        + (
            f"Nästa revision senast {FILTERS['datum'](done.next_due)}."
            if done.next_due is not None
            else "Ingen revision återstår under överenskommelsens giltighetstid."
        ),
    )
    return _back_to_revision(new.id)


# -- changed conditions and termination ------------------------------------------------------


@page(roles=("owner", "party"))
def parties(web: Web, ctx: Ctx) -> Response:
    return _parties_page(web, ctx)


def _parties_page(web: Web, ctx: Ctx, *, status: int = 200, error: str | None = None, which: str = "") -> HTMLResponse:
    shown = pages_agreement.parties_page(web.engine, _wanted(ctx), who=ctx.me)
    return render(
        web,
        ctx,
        "parties.html",
        status,
        **_switch(shown.choice),
        parties=shown.parties,
        active=shown.active,
        events=shown.events,
        error=error,
        which=which,
        f=ctx.form,
        chosen=set(ctx.multi.get("atagande", [])),
        min_date=ctx.now.date().isoformat(),
    )


def _deliver_now(web: Web, now: datetime) -> str:
    try:
        r = deliver(web.engine, now, web.settings, link=web.link)
    except Exception as exc:  # the record stands; `samverkan run` sends what is left
        return f"Meddelandet kunde inte skickas nu ({str(exc).splitlines()[0]}); det skickas vid nästa utskick."
    if r.failed:
        return "Meddelandet kunde inte levereras; processägaren får veta det i genomgången."
    if r.retried:
        return "E-postservern svarar inte just nu; meddelandet skickas så snart den gör det."
    return "Meddelandet har skickats."


def _speaker(web: Web, ctx: Ctx, which: str) -> tuple[str, str | None] | HTMLResponse:
    party = ctx.form.get("part", "")
    if not party:
        return _parties_page(web, ctx, status=400, error="Välj vilken part som meddelar.", which=which)
    if not ctx.me.may_speak_for(party):
        return message_page(web, ctx, 403, "Ingen behörighet", "Du kan bara meddela för din egen part.")
    return party, ctx.form.get("overenskommelse") or None


@page(roles=("owner", "party"))
def notify_change(web: Web, ctx: Ctx) -> Response:
    who = _speaker(web, ctx, "change")
    if isinstance(who, HTMLResponse):
        return who
    party, aid = who
    try:
        told = commands.notify_change(
            web.engine,
            party=party,
            text=ctx.form.get("text", ""),
            by=ctx.me.label,
            now=ctx.now,
            commitments=ctx.multi.get("atagande", []),
            agreement=aid,
        )
    except SamverkanError as exc:
        return _parties_page(web, ctx, status=400, error=_message(exc), which="change")
    recipients = _recipients(told.queued, "change_notice")
    sent = _deliver_now(web, ctx.now)
    flash(ctx.request, f"Ändrade förutsättningar registrerade och meddelade till {', '.join(recipients)}. {sent}")
    return _redirect("/parter?" + urlencode({"overenskommelse": told.agreement}))


@page(roles=("owner", "party"))
def terminate(web: Web, ctx: Ctx) -> Response:
    who = _speaker(web, ctx, "terminate")
    if isinstance(who, HTMLResponse):
        return who
    party, aid = who
    try:
        effective = date.fromisoformat(ctx.form.get("fran", "").strip())
    except ValueError:
        error = "Ange från vilket datum uppsägningen gäller."
        return _parties_page(web, ctx, status=400, error=error, which="terminate")
    if ctx.form.get("bekrafta") != "ja":
        return _parties_page(
            web, ctx, status=400, error="Bekräfta att överenskommelsen ska sägas upp.", which="terminate"
        )
    try:
        told = commands.terminate(
            web.engine,
            party=party,
            effective=effective,
            reason=ctx.form.get("text", ""),
            by=ctx.me.label,
            now=ctx.now,
            agreement=aid,
        )
    except SamverkanError as exc:
        return _parties_page(web, ctx, status=400, error=_message(exc), which="terminate")
    recipients = _recipients(told.queued, "termination_notice")
    sent = _deliver_now(web, ctx.now)
    flash(
        ctx.request,
        f"Uppsägningen är registrerad: alla åtaganden avslutas {FILTERS['datum'](effective)}. "
        f"Meddelad till {', '.join(recipients)}. {sent}",
    )
    return _redirect("/parter?" + urlencode({"overenskommelse": told.agreement}))


def _recipients(queued: tuple[QueueNotice, ...], kind: str) -> list[str]:
    """Whom the command's notice of ``kind`` goes to: the command says what it queued."""
    return [r for n in queued if n.kind == kind for r in n.recipients]


# -- the yearly report and the calendar ------------------------------------------------------


@page(roles=("owner", "party"))
def reports(web: Web, ctx: Ctx) -> Response:
    shown = pages_agreement.reports_page(web.engine, _wanted(ctx), now=ctx.now)
    return render(
        web,
        ctx,
        "reports.html",
        **_switch(shown.choice),
        years=shown.years,
        units=shown.units,
        parties=shown.parties,
    )


@page(roles=("owner", "party"))
def report(web: Web, ctx: Ctx) -> Response:
    year, fmt = ctx.request.path_params["year"], ctx.request.path_params["fmt"]
    if fmt not in ("html", "csv", "md") or not year.isdigit() or not 1900 <= int(year) <= 2200:
        raise HTTPException(404)
    try:
        agreement_id, text = _yearly_report(web, int(year), fmt, _wanted(ctx))
    except SamverkanError as exc:
        return message_page(web, ctx, 400, "Rapporten kan inte tas fram", _message(exc))
    if fmt == "html":
        response: Response = HTMLResponse(text)
        response.headers["Content-Security-Policy"] = REPORT_CSP
        return response
    media = "text/csv; charset=utf-8" if fmt == "csv" else "text/markdown; charset=utf-8"
    filename = f"arsrapport-{agreement_id}-{year}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return PlainTextResponse(text, media_type=media, headers=disposition)


def _yearly_report(web: Web, year: int, fmt: Literal["html", "csv", "md"], wanted: str | None) -> tuple[str, str]:
    """The report's agreement and its text: building it is the engine's, rendering it notifications'."""
    data = pages_agreement.yearly_report(web.engine, period=year, wanted=wanted)
    return data.agreement_id, render_report(data, fmt)


@page()
def calendar(web: Web, ctx: Ctx) -> Response:
    unit = ctx.query("enhet") or None
    party = ctx.query("part") or None
    if ctx.me.role == "unit":
        unit, party = ctx.me.unit, None  # a unit's contact gets its own deadlines, whatever was asked
    try:
        data, _count = calendar_file(web.engine, now=ctx.now, unit=unit, party=None if unit else party)
    except SamverkanError as exc:
        return message_page(web, ctx, 400, "Kalendern kan inte tas fram", _message(exc))
    name = f"samverkan-{unit or party or 'alla'}.ics"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(data, media_type="text/calendar; charset=utf-8", headers=disposition)


# -- errors and the application --------------------------------------------------------------


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    titles = {
        404: ("Sidan finns inte", "Adressen leder ingenstans. Gå till översikten och välj därifrån."),
        405: ("Det går inte att göra så", "Sidan tar inte emot den sortens anrop."),
    }
    title, text = titles.get(status, ("Något gick fel", "Sidan kunde inte visas. Försök igen om en stund."))
    return _harden(await run_in_threadpool(_error_page, request, status, title, text))


async def _server_error(request: Request, exc: Exception) -> Response:
    return _harden(
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
        user = _current_user(web, request) if "session" in request.scope else None
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
) -> Starlette:
    """The web application over ``engine``; ``clock`` is read once per request."""
    key = secret or load_secret(engine)
    base = base_url_for(settings)
    web = Web(
        engine=engine,
        settings=settings,
        clock=clock or SystemClock(),
        secret=key,
        lifetime=lifetime or link_lifetime(),
        link=link_maker(base, key) if base else None,
        env=_environment(),
    )
    https = secure_cookies if secure_cookies is not None else bool(base and base.startswith("https://"))
    routes = [
        Route("/", dashboard),
        Route("/logga-in", login_page, methods=["GET", "POST"]),
        Route("/logga-ut", logout, methods=["POST"]),
        Route("/forsenat", overdue),
        Route("/atagande/{cid:str}", commitment),
        Route("/atagande/{cid:str}/uppfoljning", followup, methods=["GET", "POST"]),
        Route("/uppfoljning/{token:str}", link_followup, methods=["GET", "POST"]),
        Route("/revision", revision),
        Route("/revision/inled", revision_start, methods=["POST"]),
        Route("/revision/beslut", revision_decide, methods=["POST"]),
        Route("/revision/slutfor", revision_complete, methods=["POST"]),
        Route("/parter", parties),
        Route("/parter/andrade-forutsattningar", notify_change, methods=["POST"]),
        Route("/parter/uppsagning", terminate, methods=["POST"]),
        Route("/rapport", reports),
        Route("/rapport/{year:str}.{fmt:str}", report),
        Route("/kalender.ics", calendar),
        Route("/halsa", _health),
        Mount("/static", StaticFiles(directory=str(files("web") / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=key,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_HOURS * 3600,
                same_site="lax",
                https_only=https,
            )
        ],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.web = web
    return app
