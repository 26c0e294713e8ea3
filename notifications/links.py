"""Personal follow-up links in reminder, overdue and escalation mails.

A link is ``{base_url}/uppfoljning/{token}``. The token is signed (itsdangerous, HMAC
with the secret of ``engine.keys``) and carries the commitment, the period and when it
was issued; nothing else is stored. It is refused when

* the signature does not match (a typo, a forged or altered link): *ogiltig*;
* it is older than its lifetime (``SAMVERKAN_LINK_DAYS``, default 60 days): *utgången*;
* it was issued later than now (a mail written on a rehearsed future date, ``--now``, and
  opened on the real clock): ``LinkNotYetValid``, a kind of *ogiltig* that says from when;
* the follow-up for that commitment and period is already recorded: *använd* — so a
  link is single-use without any state of its own, the follow-up itself is the state.

``link_maker`` gives the dispatcher its ``LinkMaker`` hook (notifications.context). The
issue time is the outbox row's ``send_at``, so a notice sent again after a crash
carries the same link, and the mail's Message-ID stays the same too.

The second kind is the recipient's own link, ``{base_url}/mina/{token}``: the page
*Mina uppföljningar*, every open follow-up of the units with that address, across
agreements. Its token carries the address (lowercased: addresses compare without
case) and the issue time, under a salt of its own, so neither kind is ever accepted
as the other. Lifetime and clock skew are the same; it is never used up, only
expires. ``inbox_link_maker`` gives the dispatcher its ``InboxLinkMaker`` hook,
called with (recipient address, the outbox row's ``send_at``).

The third kind is an invitation to set a password, ``{base_url}/inbjudan/{token}``
(engine.invites): its token carries the user and the invitation's nonce, under a salt
of its own. Whether it still works (used, replaced, expired) is the user row's to say,
so the token holds no time.

This module imports no web framework: the dispatcher and the runner use it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Generic, TypeVar

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Engine

from engine.keys import load_secret
from engine.models import OutboxRow
from notifications.context import LinkMaker
from notifications.settings import Settings
from rules.errors import InvalidValue

SALT: Final = "samverkan.uppfoljning.v1"
PATH: Final = "/uppfoljning/"
INBOX_SALT: Final = "samverkan.mina.v1"
INBOX_PATH: Final = "/mina/"
INVITE_SALT: Final = "samverkan.inbjudan.v1"
INVITE_PATH: Final = "/inbjudan/"
# The web's accessibility statement (tillgänglighetsredogörelse), which the yearly report links to.
STATEMENT_PATH: Final = "/tillganglighet"
KINDS: Final = ("reminder", "overdue", "escalation")
DEFAULT_DAYS: Final = 60
DAYS_ENV: Final = "SAMVERKAN_LINK_DAYS"
# Where `samverkan serve` listens by default: links in .eml files for a local trial.
LOCAL_BASE_URL: Final = "http://127.0.0.1:8080"
# A link issued a little "in the future" (clocks of two machines) is still accepted.
SKEW: Final = timedelta(minutes=5)


class LinkInvalid(Exception):
    """The token is not one of ours (altered, truncated, forged, or signed with another secret)."""


@dataclass(frozen=True)
class LinkClaim:
    """What a follow-up link says: one commitment's follow-up of one period."""

    commitment: str
    period: int
    issued: datetime


@dataclass(frozen=True)
class InboxClaim:
    """What a recipient's own link says: the address (lowercased) it was sent to."""

    email: str
    issued: datetime


ClaimT = TypeVar("ClaimT", LinkClaim, InboxClaim)

# (recipient address, the outbox row's send_at) -> the recipient's own link, or None.
InboxLinkMaker = Callable[[str, datetime], str | None]


class LinkExpired(Exception, Generic[ClaimT]):
    """The token is ours but older than its lifetime; ``claim`` is what it said.

    ``read_token`` raises ``LinkExpired[LinkClaim]``, ``read_inbox_token``
    ``LinkExpired[InboxClaim]``; ``issued`` is the claim's issue time either way.
    """

    def __init__(self, claim: ClaimT) -> None:
        self.claim: ClaimT = claim
        self.issued = claim.issued
        what = claim.email if isinstance(claim, InboxClaim) else f"{claim.commitment} {claim.period}"
        super().__init__(f"{what}: utfärdad {claim.issued.isoformat()}")


class LinkNotYetValid(LinkInvalid, Generic[ClaimT]):
    """The token is ours but issued after ``now`` (beyond the clock skew); ``claim`` says when.

    A subclass of LinkInvalid, so a caller that does not tell the reason refuses it all the
    same; the link pages tell it, since the usual cause is a rehearsal with ``--now``.
    """

    def __init__(self, token: str, claim: ClaimT) -> None:
        super().__init__(token)
        self.claim: ClaimT = claim
        self.issued = claim.issued


def link_lifetime(environ: dict[str, str] | None = None) -> timedelta:
    env = os.environ if environ is None else environ
    text = env.get(DAYS_ENV)
    if text is None:
        return timedelta(days=DEFAULT_DAYS)
    if not text.strip().isdigit() or not 1 <= int(text) <= 3650:
        raise InvalidValue(DAYS_ENV, f"ska vara ett antal dagar 1–3650, inte '{text}'")
    return timedelta(days=int(text))


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT)


def make_token(secret: str, commitment_id: str, period: int, issued: datetime) -> str:
    if issued.tzinfo is None:
        raise ValueError("naive datetime: pass an aware datetime")
    payload = {"c": commitment_id, "p": int(period), "i": int(issued.timestamp())}
    return str(_serializer(secret).dumps(payload))


def read_token(secret: str, token: str, *, now: datetime, lifetime: timedelta | None = None) -> LinkClaim:
    """The claim in ``token``, or LinkInvalid / LinkExpired."""
    payload = _payload(_serializer(secret), token)
    try:
        claim = LinkClaim(
            commitment=str(payload["c"]),
            period=int(payload["p"]),
            issued=datetime.fromtimestamp(int(payload["i"]), tz=UTC),
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        raise LinkInvalid(token) from None
    return _in_time(claim, token, now, lifetime)


def make_inbox_token(secret: str, email: str, issued: datetime) -> str:
    """The token of a recipient's own link: the address, lowercased, and when it was issued."""
    if issued.tzinfo is None:
        raise ValueError("naive datetime: pass an aware datetime")
    payload = {"e": email.strip().lower(), "i": int(issued.timestamp())}
    return str(URLSafeSerializer(secret, salt=INBOX_SALT).dumps(payload))


def read_inbox_token(secret: str, token: str, *, now: datetime, lifetime: timedelta | None = None) -> InboxClaim:
    """The address in a recipient's own link, or LinkInvalid / LinkExpired (a follow-up token is invalid here)."""
    payload = _payload(URLSafeSerializer(secret, salt=INBOX_SALT), token)
    try:
        email = payload["e"]
        if not isinstance(email, str) or "@" not in email:
            raise ValueError(email)
        claim = InboxClaim(email=email.lower(), issued=datetime.fromtimestamp(int(payload["i"]), tz=UTC))
    except (KeyError, TypeError, ValueError, OverflowError):
        raise LinkInvalid(token) from None
    return _in_time(claim, token, now, lifetime)


@dataclass(frozen=True)
class InviteClaim:
    """What an invitation link says: the user and the invitation's nonce."""

    user: int
    nonce: str


def make_invite_token(secret: str, user_id: int, nonce: str) -> str:
    return str(URLSafeSerializer(secret, salt=INVITE_SALT).dumps({"u": int(user_id), "n": nonce}))


def read_invite_token(secret: str, token: str) -> InviteClaim:
    """The user and nonce in an invitation link, or LinkInvalid (another kind of link is invalid here)."""
    payload = _payload(URLSafeSerializer(secret, salt=INVITE_SALT), token)
    try:
        user, nonce = payload["u"], payload["n"]
        if not isinstance(user, int) or not isinstance(nonce, str) or not nonce:
            raise ValueError(payload)
    except (KeyError, TypeError, ValueError):
        raise LinkInvalid(token) from None
    return InviteClaim(user=user, nonce=nonce)


def make_invite_link(settings_or_base_url: Settings | str, secret: str, user_id: int, nonce: str) -> str:
    return f"{_base(settings_or_base_url)}{INVITE_PATH}{make_invite_token(secret, user_id, nonce)}"


def _payload(serializer: URLSafeSerializer, token: str) -> Any:
    try:
        return serializer.loads(token)
    except BadSignature:
        raise LinkInvalid(token) from None


def _in_time(claim: ClaimT, token: str, now: datetime, lifetime: timedelta | None) -> ClaimT:
    if claim.issued > now + SKEW:
        raise LinkNotYetValid(token, claim)
    if now - claim.issued > (lifetime or link_lifetime()):
        raise LinkExpired(claim)
    return claim


def form_token(secret: str, token: str) -> str:
    """The CSRF token of the link's form: bound to the link, so a page elsewhere cannot post it."""
    return hmac.new(secret.encode(), b"csrf:" + token.encode(), hashlib.sha256).hexdigest()


def base_url_for(settings: Settings) -> str | None:
    """``settings.base_url``; for mail that stays on this machine (.eml files, console), the local default."""
    if settings.base_url:
        return settings.base_url.rstrip("/")
    return LOCAL_BASE_URL if settings.mailer in ("file", "console") else None


def statement_url(base_url: str | None) -> str | None:
    """The accessibility statement's address under the web's ``base_url``; None when it is not known."""
    return f"{base_url.rstrip('/')}{STATEMENT_PATH}" if base_url else None


def _base(settings_or_base_url: Settings | str) -> str:
    if isinstance(settings_or_base_url, Settings):
        base = base_url_for(settings_or_base_url)
        if base is None:
            raise InvalidValue(
                "base_url", "saknas i inställningarna; ange webbens adress, t.ex. https://samverkan.boras.se"
            )
        return base
    return settings_or_base_url.rstrip("/")


def make_link(settings_or_base_url: Settings | str, secret: str, commitment_id: str, period: int, now: datetime) -> str:
    """The personal link for one commitment's follow-up of ``period``, issued at ``now``."""
    return f"{_base(settings_or_base_url)}{PATH}{make_token(secret, commitment_id, period, now)}"


def make_inbox_link(settings_or_base_url: Settings | str, secret: str, email: str, issued: datetime) -> str:
    """The recipient's own link to *Mina uppföljningar*, ``{base}/mina/{token}``, issued at ``issued``."""
    return f"{_base(settings_or_base_url)}{INBOX_PATH}{make_inbox_token(secret, email, issued)}"


def link_maker(settings_or_base_url: Settings | str, secret: str) -> LinkMaker:
    """The dispatcher's hook: a link for every reminder, overdue and escalation notice, and every invitation."""

    def make(row: OutboxRow) -> str | None:
        if row.kind == "invite":
            return make_invite_link(settings_or_base_url, secret, int(row.data["user"]), str(row.data["nonce"]))
        if row.kind not in KINDS or row.commitment_id is None or row.period is None:
            return None
        return make_link(settings_or_base_url, secret, row.commitment_id, row.period, row.send_at)

    return make


def link_maker_for(engine: Engine, settings: Settings) -> LinkMaker | None:
    """The hook for ``deliver(...)``: None (mail without links) when no web address is known."""
    base = base_url_for(settings)
    if base is None:
        return None
    return link_maker(base, load_secret(engine))


def inbox_link_maker(settings_or_base_url: Settings | str, secret: str) -> InboxLinkMaker:
    """The dispatcher's hook for a recipient's own link: called with (address, the row's send_at)."""

    def make(email: str, issued: datetime) -> str | None:
        return make_inbox_link(settings_or_base_url, secret, email, issued)

    return make


def inbox_link_maker_for(engine: Engine, settings: Settings) -> InboxLinkMaker | None:
    """The inbox hook for ``deliver(...)``: None (mail without it) when no web address is known."""
    base = base_url_for(settings)
    if base is None:
        return None
    return inbox_link_maker(base, load_secret(engine))
