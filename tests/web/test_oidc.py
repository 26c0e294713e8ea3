"""Signing in with the organisation's account: OpenID Connect against a real provider on 127.0.0.1.

The provider (tests/web/oidc_provider.py) and the app both run under uvicorn; the browser's
part is played by an httpx client that follows each redirect by hand, so every hop can be
looked at and the provider's answer tampered with. One Playwright test clicks the button.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2 as httpx
import pytest
from sqlalchemy import Engine

from engine.api import commands_users
from engine.clock import FixedClock
from notifications.settings import OidcSettings, Settings, load_settings
from rules.errors import InvalidValue
from tests.web.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider
from web.app import create_app

LABEL = "Borås Stads konto"


@dataclass
class Sso:
    url: str
    provider: Provider
    servers: list[Any]

    def client(self) -> httpx.Client:
        return httpx.Client(follow_redirects=False, timeout=30)

    def to_callback(self, c: httpx.Client) -> str:
        """Start the sign-in and let the provider approve it: the address it sends the browser back to."""
        start = c.get(f"{self.url}/logga-in/oidc?nasta=/forsenat")
        assert start.status_code == 302, start.text
        assert start.headers["location"].startswith(self.provider.issuer + "/authorize?")
        approved = c.get(start.headers["location"])
        assert approved.status_code == 307, approved.text
        return str(approved.headers["location"])

    def signed_in(self, c: httpx.Client) -> bool:
        answer = c.get(f"{self.url}/")
        return answer.status_code == 200 and "Översikt" in answer.text


@pytest.fixture
def sso(
    boras_due: Engine, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kit: Any
) -> Iterator[Sso]:
    monkeypatch.setenv("SAMVERKAN_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    idp_port, app_port = kit.free_port(), kit.free_port()
    issuer, url = f"http://127.0.0.1:{idp_port}", f"http://127.0.0.1:{app_port}"
    provider = Provider(issuer=issuer, clock=clock, redirect_uri=f"{url}/logga-in/oidc/svar", email=kit.OWNER)
    settings = Settings(
        mailer="file",
        mail_dir=tmp_path / "outbox",
        base_url=url,
        oidc=OidcSettings(issuer=issuer, client_id=CLIENT_ID, label=LABEL),
    )
    servers = [kit.start_server(provider.app(), idp_port)]
    servers.append(kit.start_server(create_app(boras_due, settings, clock, secret=kit.SECRET), app_port))
    yield Sso(url=url, provider=provider, servers=servers)
    for server in servers:
        kit.stop_server(server)


def test_the_provider_vouches_for_a_user_and_they_are_signed_in_where_they_were_going(sso: Sso) -> None:
    with sso.client() as c:
        login = c.get(f"{sso.url}/logga-in")
        assert f"Logga in med {LABEL}" in login.text
        back = c.get(sso.to_callback(c))
        assert back.status_code == 303 and back.headers["location"] == "/forsenat"
        assert sso.signed_in(c)
        assert "Anna Andersson · processägare" in c.get(f"{sso.url}/").text
        # The same session as after a password: a form's CSRF token, and signing out ends it.
        page = c.get(f"{sso.url}/konto/losenord")
        assert page.status_code == 200
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        assert c.post(f"{sso.url}/logga-ut", data={"csrf": token}).status_code == 303
        assert not sso.signed_in(c)


def _refused(sso: Sso, c: httpx.Client, callback: str, status: int, title: str) -> httpx.Response:
    answer = c.get(callback)
    assert answer.status_code == status, answer.text
    assert f"<h1>{title}</h1>" in answer.text
    assert not sso.signed_in(c)
    return answer


def test_an_answer_with_another_state_or_in_another_browser_signs_no_one_in(sso: Sso) -> None:
    with sso.client() as c, sso.client() as other:
        callback = sso.to_callback(c)
        _refused(sso, other, callback, 400, "Inloggningen kunde inte slutföras")  # not started in that browser
        parts = urlsplit(callback)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        forged = f"{sso.url}{parts.path}?" + urlencode({**query, "state": "en-annan-" + query["state"]})
        _refused(sso, c, forged, 400, "Inloggningen kunde inte slutföras")
        assert sso.provider.tokens_issued == 0  # the code was never exchanged


def test_an_id_token_with_another_nonce_is_refused_and_logged_without_the_code(
    sso: Sso, caplog: pytest.LogCaptureFixture
) -> None:
    sso.provider.nonce = "en-annan-nonce"
    with sso.client() as c, caplog.at_level(logging.WARNING, logger="samverkan.web.oidc"):
        callback = sso.to_callback(c)
        _refused(sso, c, callback, 401, "Inloggningen kunde inte godkännas")
    assert sso.provider.tokens_issued == 1
    assert "nonce" in caplog.text
    assert parse_qs(urlsplit(callback).query)["code"][0] not in caplog.text
    assert CLIENT_SECRET not in caplog.text


def test_an_expired_id_token_is_refused(sso: Sso) -> None:
    sso.provider.expired = True  # issued an hour ago on the app's clock, valid for ten minutes
    with sso.client() as c:
        answer = _refused(sso, c, sso.to_callback(c), 401, "Inloggningen kunde inte godkännas")
    assert LABEL in answer.text


def test_an_address_without_a_user_is_refused_and_named(sso: Sso) -> None:
    sso.provider.email = "ny.person@boras.example"
    with sso.client() as c:
        answer = _refused(sso, c, sso.to_callback(c), 403, "Ingen användare i samverkan")
    assert "ny.person@boras.example" in answer.text and "processägaren" in answer.text


def test_a_deactivated_user_is_refused_though_the_provider_vouches_for_them(sso: Sso, boras_due: Engine) -> None:
    commands_users.set_active(boras_due, sso.provider.email, False)
    with sso.client() as c:
        _refused(sso, c, sso.to_callback(c), 403, "Ingen användare i samverkan")
    commands_users.set_active(boras_due, sso.provider.email, True)
    with sso.client() as c:
        c.get(sso.to_callback(c))
        assert sso.signed_in(c)


def test_an_address_the_provider_has_not_verified_is_refused(sso: Sso) -> None:
    sso.provider.email_verified = False
    with sso.client() as c:
        _refused(sso, c, sso.to_callback(c), 403, "E-postadressen är inte bekräftad")


def test_a_refusal_at_the_provider_is_a_swedish_page(sso: Sso) -> None:
    sso.provider.deny = True
    with sso.client() as c:
        _refused(sso, c, sso.to_callback(c), 403, "Inloggningen avbröts")


def test_an_unreachable_provider_is_502_and_password_sign_in_still_works(sso: Sso, kit: Any) -> None:
    kit.stop_server(sso.servers[0])
    with sso.client() as c:
        answer = c.get(f"{sso.url}/logga-in/oidc")
        assert answer.status_code == 502 and "<h1>Inloggningstjänsten svarar inte</h1>" in answer.text
        login = c.get(f"{sso.url}/logga-in")
        signed = c.post(
            f"{sso.url}/logga-in",
            data={"csrf": kit.csrf_of(login.text), "email": kit.OWNER, "losenord": kit.PASSWORD, "nasta": "/"},
        )
        assert signed.status_code == 303 and sso.signed_in(c)


def test_without_a_provider_there_is_no_button_and_no_sign_in_page(client: Any) -> None:
    assert "Logga in med" not in client.get("/logga-in").text
    assert client.get("/logga-in/oidc").status_code == 404
    assert client.get("/logga-in/oidc/svar?code=x&state=y").status_code == 404


def test_the_settings_keep_the_secret_out_of_the_file_and_the_provider_on_https(tmp_path: Path) -> None:
    path = tmp_path / "installningar.yaml"
    path.write_text(
        "mailer: file\noidc:\n  issuer: https://login.microsoftonline.com/t/v2.0\n  client_id: abc\n"
        "  client_secret: hemligt-värde\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidValue) as secret:
        load_settings(path)
    assert secret.value.field == f"{path}:5" and "miljövariabeln" in secret.value.message
    assert "hemligt-värde" not in str(secret.value)
    path.write_text("mailer: file\noidc:\n  issuer: http://idp.example/\n  client_id: abc\n", encoding="utf-8")
    with pytest.raises(InvalidValue) as clear:
        load_settings(path)
    assert clear.value.field == f"{path}:3" and "https://" in clear.value.message


def test_the_button_leads_through_the_provider_to_the_dashboard(sso: Sso, page: Any, kit: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect

    page.goto(f"{sso.url}/logga-in")
    wcag = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
    for viewport in (kit.PHONE, kit.DESKTOP):
        page.set_viewport_size(viewport)
        assert [v["id"] for v in Axe().run(page, options=wcag).response["violations"]] == []
    kit.shot(page, "login-oidc")
    page.click(f"text=Logga in med {LABEL}")
    expect(page.locator("h1").first).to_contain_text("Samverkansöverenskommelse mellan Borås Stad")
    assert page.url == f"{sso.url}/"
    expect(page.locator("header")).to_contain_text("Anna Andersson")
