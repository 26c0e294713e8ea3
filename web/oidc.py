"""Single sign-on with an OpenID Connect provider, through Authlib's Starlette client.

Optional: configured by the settings file's ``oidc:`` section (notifications.settings),
the client secret from the environment. The flow is the authorization code flow with
PKCE: ``begin`` sends the browser to the provider with a state and a nonce that Authlib
keeps in the signed session cookie; ``finish`` takes the provider's answer, checks the
state (once: Authlib forgets it on the first answer), exchanges the code for tokens over
the back channel and verifies the id token: RS256 (or what the provider's discovery
names) against the provider's published keys, the issuer, the audience (this client),
the nonce and the expiry on the app's clock. What is left is one verified address;
which user it is, and whether there is one, is the engine's to say (web/pages/sso.py).

Every refusal is a ``Refused``: what the person is told, in Swedish, and a reason for the
log that carries no code, token or secret.

Pages run in a worker thread (web.http); Authlib's client is asynchronous, so its calls
are handed to the server's event loop with anyio's ``from_thread.run``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import httpx2
from anyio import from_thread
from authlib.integrations.base_client.errors import MismatchingStateError
from authlib.integrations.starlette_client import OAuth, OAuthError
from authlib.integrations.starlette_client.apps import StarletteOAuth2App
from authlib.oidc.core import CodeIDToken
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import Response

from notifications.settings import OidcSettings

T = TypeVar("T")
CALLBACK = "/logga-in/oidc/svar"
# openid: an id token; email and profile: the address and the name in it (Entra ID, Google, Keycloak alike).
SCOPES = "openid email profile"
# How far this server's clock and the provider's may disagree on an id token's times.
LEEWAY_SECONDS = 120
TIMEOUT_SECONDS = 10
_NAME = "sso"

log = logging.getLogger("samverkan.web.oidc")


class Refused(Exception):
    """The sign-in did not complete: ``status``, ``title`` and ``text`` for the person, ``reason`` for the log."""

    def __init__(self, status: int, title: str, text: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.title = title
        self.text = text
        self.reason = reason


@dataclass(frozen=True)
class SingleSignOn:
    settings: OidcSettings
    client: StarletteOAuth2App
    base_url: str | None

    @property
    def label(self) -> str:
        return self.settings.label

    def redirect_uri(self, request: Request) -> str:
        """Where the provider sends the browser back: under ``base_url`` (what is registered), else this host."""
        base = self.base_url or str(request.base_url)
        return base.rstrip("/") + CALLBACK


def single_sign_on(settings: OidcSettings, base_url: str | None) -> SingleSignOn:
    """The configured provider's client; the secret is read now, so a missing one stops the start."""
    oauth = OAuth()
    client = oauth.register(
        _NAME,
        client_id=settings.client_id,
        client_secret=settings.secret(),
        server_metadata_url=settings.discovery,
        client_kwargs={"scope": SCOPES, "code_challenge_method": "S256", "timeout": TIMEOUT_SECONDS},
    )
    assert isinstance(client, StarletteOAuth2App)
    return SingleSignOn(settings=settings, client=client, base_url=base_url)


def begin(sso: SingleSignOn, request: Request) -> Response:
    """The redirect to the provider's sign-in (state, nonce and PKCE verifier kept in the session)."""
    return _call(_begin, sso, request)


def finish(sso: SingleSignOn, request: Request, now: datetime) -> str:
    """The address the provider verified for the person who answers now; else Refused."""
    return _call(_finish, sso, request, now)


def _call(fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    try:
        return from_thread.run(fn, *args)
    except (httpx2.HTTPError, ValueError, RuntimeError) as exc:
        # ValueError: a discovery document or key set that is no JSON; RuntimeError: Authlib's
        # word for a discovery document without an endpoint it needs.
        raise _unreachable(f"{type(exc).__name__}: {exc}") from None


async def _begin(sso: SingleSignOn, request: Request) -> Response:
    await _metadata(sso)
    answer: Response = await sso.client.authorize_redirect(request, sso.redirect_uri(request))
    return answer


async def _metadata(sso: SingleSignOn) -> dict[str, Any]:
    metadata: dict[str, Any] = await sso.client.load_server_metadata()
    # OpenID Connect Discovery 1.0, section 4.3: the document must name the issuer it was fetched for.
    if metadata.get("issuer") != sso.settings.issuer:
        raise _unreachable(f"the discovery document names issuer {str(metadata.get('issuer'))[:200]!r}")
    return metadata


async def _finish(sso: SingleSignOn, request: Request, now: datetime) -> str:
    await _metadata(sso)
    error = request.query_params.get("error")
    if error is not None:
        await sso.client.framework.clear_state_data(request.session, request.query_params.get("state"))
        raise _provider_said(sso, error[:100])
    try:
        token = await sso.client.authorize_access_token(
            request,
            claims_options={
                "iss": {"essential": True, "values": [sso.settings.issuer]},
                "aud": {"essential": True, "values": [sso.settings.client_id]},
            },
            claims_cls=_id_token_at(int(now.timestamp())),
            leeway=LEEWAY_SECONDS,
        )
    except MismatchingStateError:
        # Never checked against the provider: not started in this browser, used once, or forged.
        raise Refused(
            400,
            "Inloggningen kunde inte slutföras",
            "Inloggningen hörde inte till den här webbläsaren eller var redan använd. "
            "Ingen har loggats in. Börja om från inloggningssidan.",
            "unknown or reused state",
        ) from None
    except OAuthError as exc:
        # The token endpoint refused the code (used, expired) or this client (a wrong secret).
        raise _unreachable(f"token endpoint: {str(exc.error)[:100]}") from None
    except JoseError as exc:
        raise Refused(
            401,
            "Inloggningen kunde inte godkännas",
            f"Beviset från {sso.label} kunde inte godkännas (det var ogiltigt, för gammalt eller "
            "inte utfärdat för samverkan). Ingen har loggats in. Börja om från inloggningssidan.",
            f"id token refused: {type(exc).__name__}: {exc}",
        ) from None
    claims = token.get("userinfo")
    if not isinstance(claims, dict):
        raise _unreachable("no id token in the token response")
    return _address(sso, claims)


def _address(sso: SingleSignOn, claims: dict[str, Any]) -> str:
    """The verified address in the claims: the configured claim; ``email_verified``, when given, must be true."""
    claim = sso.settings.email_claim
    address = claims.get(claim)
    if not isinstance(address, str) or "@" not in address:
        raise Refused(
            403,
            "Ingen e-postadress från inloggningen",
            f"{sso.label} lämnade ingen e-postadress, så samverkan vet inte vem du är. "
            "Säg till den som driftar samverkan.",
            f"claim {claim!r} missing or no address",
        )
    if "email_verified" in claims and claims["email_verified"] not in (True, "true"):
        raise Refused(
            403,
            "E-postadressen är inte bekräftad",
            f"{sso.label} har inte bekräftat din e-postadress, så den kan inte användas för att logga in. "
            "Logga in med lösenord, eller bekräfta adressen hos din organisation.",
            f"email_verified is {claims['email_verified']!r} for {address[:320]}",
        )
    return address.strip()


def _id_token_at(now: int) -> type[CodeIDToken]:
    """Authlib's id token claims, their times checked against ``now`` (the app's clock) rather than the wall's."""

    class AtNow(CodeIDToken):  # type: ignore[misc]
        def validate(self, now_: int | None = None, leeway: int = 0) -> None:
            super().validate(now, leeway)

    return AtNow


def _provider_said(sso: SingleSignOn, error: str) -> Refused:
    if error == "access_denied":
        return Refused(
            403,
            "Inloggningen avbröts",
            f"{sso.label} godkände inte inloggningen (den avbröts eller nekades). Ingen har loggats in. "
            "Försök igen, eller logga in med lösenord.",
            "the provider answered access_denied",
        )
    return Refused(
        400,
        "Inloggningen kunde inte slutföras",
        f"{sso.label} svarade med ett fel. Ingen har loggats in. Försök igen om en stund.",
        f"the provider answered {error!r}",
    )


def _unreachable(reason: str) -> Refused:
    return Refused(
        502,
        "Inloggningstjänsten svarar inte",
        "Det gick inte att nå inloggningstjänsten, eller den svarade inte som väntat. Ingen har loggats in. "
        "Försök igen om en stund, eller logga in med lösenord.",
        reason,
    )
