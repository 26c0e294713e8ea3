"""The process owner's users page, and the page behind an invitation link where a user sets a password.

On ``/anvandare`` the owner invites a user by e-mail, changes a user's role, party or
unit, deactivates or reactivates one, sends a new invitation (a forgotten password) and
removes one. The owner cannot deactivate, demote or remove themselves. An invitation is
a mail in the outbox (engine.invites), sent by the dispatcher like every notice; the
link in it leads to ``/inbjudan/{token}``, which needs no sign-in.
"""

from __future__ import annotations

from starlette.responses import Response

from engine.api import commands_users, pages_users
from engine.invites import INVITE_LIFETIME, InviteLink, LinkState
from engine.users import MIN_PASSWORD, ROLE_SV, ROLES
from notifications.links import LinkInvalid, read_invite_token
from rules.errors import InvalidValue
from web.http import Ctx, Web, error_text, flash, message_page, page, redirect, render

# The engine's name for a value (InvalidValue.field) → the form field it is shown beside.
FIELDS = {"email": "epost", "name": "namn", "role": "roll", "party": "part", "unit": "enhet"}
NEW = "ny"  # the invitation form's name in ``which``, beside the users' own ids


def _users_page(
    web: Web,
    ctx: Ctx,
    status: int = 200,
    *,
    which: str = "",
    errors: dict[str, str] | None = None,
    message: str | None = None,
) -> Response:
    shown = pages_users.users_page(web.engine)
    return render(
        web,
        ctx,
        "users.html",
        status,
        people=shown.people,
        parties=shown.parties,
        units=shown.units,
        # A user's party or unit as a person reads it: its name, not its id.
        party_names={o.id: o.name for o in shown.parties},
        unit_names={o.id: o.name for o in shown.units},
        invite_days=shown.invite_days,
        roles=ROLES,
        which=which,
        errors=errors or {},
        message=message,
        f=ctx.form,
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _role_of(ctx: Ctx) -> tuple[str, str | None, str | None, dict[str, str]]:
    """The form's role with only the party or unit that role takes, and what is missing, per field."""
    role = ctx.form.get("roll", "")
    party = (ctx.form.get("part") or None) if role == "party" else None
    unit = (ctx.form.get("enhet") or None) if role == "unit" else None
    missing = {}
    if role not in ROLES:
        missing["roll"] = "Välj en roll."
    elif role == "party" and party is None:
        missing["part"] = "Välj vilken part användaren företräder."
    elif role == "unit" and unit is None:
        missing["enhet"] = "Välj vilken enhet användaren är kontakt för."
    return role, party, unit, missing


def _refused(web: Web, ctx: Ctx, exc: InvalidValue, which: str) -> Response:
    if exc.field in FIELDS:
        return _users_page(web, ctx, 400, which=which, errors={FIELDS[exc.field]: _sentence(exc.message)})
    return _users_page(web, ctx, 400, message=error_text(exc) + ". Inget har sparats.")


@page(roles=("owner",))
def users(web: Web, ctx: Ctx) -> Response:
    return _users_page(web, ctx)


@page(roles=("owner",))
def invite(web: Web, ctx: Ctx) -> Response:
    role, party, unit, missing = _role_of(ctx)
    if not ctx.form.get("epost", "").strip():
        missing["epost"] = "Ange e-postadressen som inbjudan ska gå till."
    if missing:
        return _users_page(web, ctx, 400, which=NEW, errors=missing)
    try:
        done = commands_users.invite_user(
            web.engine,
            ctx.form.get("epost", ""),
            role=role,
            party=party,
            unit=unit,
            name=ctx.form.get("namn", ""),
            by=ctx.me.label,
            now=ctx.now,
        )
    except InvalidValue as exc:
        return _refused(web, ctx, exc, NEW)
    flash(
        ctx.request,
        f"Inbjudan till {done.email} skickas med nästa utskick. Länken gäller i {INVITE_LIFETIME.days} dagar.",
    )
    return redirect("/anvandare")


@page(roles=("owner",))
def invite_again(web: Web, ctx: Ctx) -> Response:
    try:
        done = commands_users.invite_again(web.engine, ctx.form.get("email", ""), by=ctx.me.label, now=ctx.now)
    except InvalidValue as exc:
        return _users_page(web, ctx, 400, message=_sentence(exc.message) + " Ingen inbjudan är skickad.")
    flash(
        ctx.request,
        f"En ny inbjudan till {done.email} skickas med nästa utskick; tidigare länkar fungerar inte längre.",
    )
    return redirect("/anvandare")


@page(roles=("owner",))
def change(web: Web, ctx: Ctx) -> Response:
    email = ctx.form.get("email", "")
    which = ctx.form.get("anvandare", "")
    role, party, unit, missing = _role_of(ctx)
    if missing:
        return _users_page(web, ctx, 400, which=which, errors=missing)
    try:
        changed = commands_users.change_role(web.engine, email, role=role, party=party, unit=unit, actor=ctx.me.id)
    except InvalidValue as exc:
        return _refused(web, ctx, exc, which)
    scope = f" för {changed.party or changed.unit}" if changed.party or changed.unit else ""
    flash(ctx.request, f"{changed.email} har nu rollen {ROLE_SV[changed.role]}{scope}.")
    return redirect("/anvandare")


def _set_active(web: Web, ctx: Ctx, active: bool) -> Response:
    try:
        done = commands_users.set_active(web.engine, ctx.form.get("email", ""), active, actor=ctx.me.id)
    except InvalidValue as exc:
        return _users_page(web, ctx, 400, message=_sentence(exc.message) + " Inget har ändrats.")
    if active:
        flash(ctx.request, f"{done.email} är aktiverad och kan logga in igen.")
    else:
        flash(ctx.request, f"{done.email} är avaktiverad: utloggad på alla enheter och kan inte logga in.")
    return redirect("/anvandare")


@page(roles=("owner",))
def deactivate(web: Web, ctx: Ctx) -> Response:
    return _set_active(web, ctx, False)


@page(roles=("owner",))
def reactivate(web: Web, ctx: Ctx) -> Response:
    return _set_active(web, ctx, True)


@page(roles=("owner",))
def remove(web: Web, ctx: Ctx) -> Response:
    email = ctx.form.get("email", "")
    if email.strip().lower() == ctx.me.email.lower():
        return message_page(
            web,
            ctx,
            400,
            "Du kan inte ta bort dig själv",
            "Be en annan processägare, eller använd 'samverkan user remove' på servern. Ingen är borttagen.",
        )
    try:
        gone = commands_users.remove_user(web.engine, email)
    except InvalidValue as exc:
        return _users_page(web, ctx, 400, message=error_text(exc) + ". Ingen är borttagen.")
    flash(ctx.request, f"Användaren {gone.email} är borttagen.")
    return redirect("/anvandare")


# -- the invitation link ---------------------------------------------------------------------


def _link_refused(web: Web, ctx: Ctx, found: InviteLink | None) -> Response:
    again = "Be processägaren om en ny inbjudan."
    if found is None or found.state is LinkState.UNKNOWN:
        return message_page(
            web,
            ctx,
            404,
            "Länken fungerar inte",
            "Adressen är ingen giltig inbjudan. Kontrollera att hela adressen från e-postmeddelandet kom med. " + again,
            home=False,
        )
    if found.state is LinkState.EXPIRED:
        return message_page(
            web,
            ctx,
            410,
            "Länken har gått ut",
            f"En inbjudan gäller i {INVITE_LIFETIME.days} dagar. " + again,
            home=False,
        )
    return message_page(
        web,
        ctx,
        410,
        "Länken är redan använd",
        "Länken har redan använts, eller ersatts av en nyare inbjudan. Har du valt ett lösenord kan du logga in. "
        + again,
        home=False,
    )


def _set_password_form(
    web: Web, ctx: Ctx, found: InviteLink, status: int = 200, errors: dict[str, str] | None = None
) -> Response:
    return render(
        web,
        ctx,
        "set_password.html",
        status,
        invited=found,
        action=ctx.request.url.path,
        min_length=MIN_PASSWORD,
        errors=errors or {},
    )


@page(login=False)
def set_password(web: Web, ctx: Ctx) -> Response:
    try:
        claim = read_invite_token(web.secret, ctx.request.path_params["token"])
    except LinkInvalid:
        return _link_refused(web, ctx, None)
    found = commands_users.invite_link(web.engine, claim.user, claim.nonce, ctx.now)
    if found.state is not LinkState.OPEN:
        return _link_refused(web, ctx, found)
    if ctx.request.method == "GET":
        return _set_password_form(web, ctx, found)
    password = ctx.form.get("losenord", "")
    errors = {}
    if len(password) < MIN_PASSWORD:
        errors["losenord"] = f"Lösenordet ska vara minst {MIN_PASSWORD} tecken."
    elif password != ctx.form.get("losenord_igen", ""):
        errors["losenord_igen"] = "De två lösenorden är olika. Skriv samma lösenord i båda fälten."
    if errors:
        return _set_password_form(web, ctx, found, 400, errors)
    try:
        done = commands_users.accept_invite(web.engine, claim.user, claim.nonce, password, ctx.now)
    except InvalidValue as exc:
        return _set_password_form(web, ctx, found, 400, {"losenord": _sentence(exc.message)})
    if done.state is not LinkState.OPEN:
        return _link_refused(web, ctx, done)
    ctx.request.session.clear()  # whoever was signed in in this browser is not the one who set it
    flash(ctx.request, "Lösenordet är sparat. Logga in med din e-postadress och det nya lösenordet.")
    return redirect("/logga-in")
