"""A small, real OpenID Connect provider for the single sign-on tests, served on 127.0.0.1.

Discovery, the key set, an authorization endpoint that approves at once as ``email`` (no
sign-in form: the provider's own sign-in is not what is tested), and a token endpoint
that checks the client's secret (HTTP Basic), the code (once), the redirect URI and the
PKCE verifier, then issues an id token signed RS256 with joserfc. Its times come from the
test's clock. A test makes it misbehave by setting ``nonce`` (a wrong one), ``expired``,
``email`` (an unknown address), ``email_verified`` or ``deny`` (error=access_denied).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from engine.clock import FixedClock

CLIENT_ID = "samverkan-test"
CLIENT_SECRET = "provider-secret-" + "y" * 24


@dataclass
class Provider:
    issuer: str
    clock: FixedClock
    redirect_uri: str
    email: str
    name: str = "Anna Andersson"
    nonce: str | None = None  # set: the id token carries this nonce instead of the one asked for
    expired: bool = False
    email_verified: bool | None = True  # None: no such claim
    deny: bool = False
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"}))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens_issued: int = 0

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
            ]
        )

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != CLIENT_ID or q.get("redirect_uri") != self.redirect_uri:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if self.deny:
            refusal = urlencode({"error": "access_denied", "state": q["state"]})
            return RedirectResponse(f"{self.redirect_uri}?{refusal}")
        assert q.get("response_type") == "code" and "openid" in q.get("scope", "").split()
        assert q.get("code_challenge_method") == "S256"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"nonce": q["nonce"], "challenge": q["code_challenge"]}
        return RedirectResponse(f"{self.redirect_uri}?" + urlencode({"code": code, "state": q["state"]}))

    async def token(self, request: Request) -> Response:
        form = await request.form()
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.codes.pop(str(form.get("code")), None)  # a code is used once
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if grant is None or form.get("redirect_uri") != self.redirect_uri or challenge != grant["challenge"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = self.clock.now()
        issued = now - timedelta(hours=1) if self.expired else now
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "user-" + hashlib.sha256(self.email.encode()).hexdigest()[:12],
            "aud": CLIENT_ID,
            "iat": int(issued.timestamp()),
            "exp": int((issued + timedelta(minutes=10)).timestamp()),
            "nonce": self.nonce or grant["nonce"],
            "email": self.email,
            "name": self.name,
        }
        if self.email_verified is not None:
            claims["email_verified"] = self.email_verified
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
        self.tokens_issued += 1
        return JSONResponse(
            {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 600, "id_token": id_token}
        )
