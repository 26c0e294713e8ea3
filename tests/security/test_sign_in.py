"""Password guessing at ``POST /logga-in`` is throttled, and password checks are capped (issue 14).

Before: no lock-out, and each attempt cost an argon2 hash of 64 MiB; eight concurrent
anonymous attempts took the server from 107 to 619 MB. Now failures are counted per
account and per client address on the app's clock (the tests move it; nothing sleeps),
a locked attempt is answered 429 without a password check, and at most two checks run
at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine

from engine import users
from engine.clock import FixedClock
from notifications.settings import Settings
from tests.security.conftest import Live
from tests.web.conftest import SECRET, Kit
from web.app import create_app
from web.throttle import SignInLimits


class CountingHasher(PasswordHasher):
    """The tests' cheap hasher, counting how many password checks ran."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.checks = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.checks += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch, boras_due: Engine) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(users, "_hasher", counting)
    return counting


def attempt(c: httpx.Client, email: str, password: str, address: str | None = None) -> httpx.Response:
    # uvicorn takes the client address from X-Forwarded-For when the peer is 127.0.0.1,
    # as it does behind a local reverse proxy; that is how these tests come from many addresses.
    headers = {"X-Forwarded-For": address} if address else {}
    page = c.get("/logga-in", headers=headers)
    data = {"csrf": Kit.csrf_of(page.text), "email": email, "losenord": password, "nasta": "/"}
    return c.post("/logga-in", data=data, headers=headers)


def test_five_wrong_passwords_lock_the_account_and_the_right_one_waits(live: Live, hasher: CountingHasher) -> None:
    with live.client() as c:
        for _ in range(5):
            assert attempt(c, Kit.OWNER, "fel lösenord 123").status_code == 401
        checks = hasher.checks
        locked = attempt(c, Kit.OWNER, Kit.PASSWORD)
        assert locked.status_code == 429
        assert locked.headers["retry-after"] == "900"
        assert "För många inloggningsförsök" in locked.text
        assert "Försök igen kl. 10:15" in locked.text
        assert hasher.checks == checks  # a locked attempt costs no password check
        live.clock.advance_to(live.clock.now() + timedelta(minutes=14, seconds=59))
        assert attempt(c, Kit.OWNER, Kit.PASSWORD).headers["retry-after"] == "1"
        live.clock.advance_to(live.clock.now() + timedelta(seconds=1))
        assert attempt(c, Kit.OWNER, Kit.PASSWORD).status_code == 303
        assert c.get("/").status_code == 200


def test_the_account_lock_holds_from_every_address(live: Live, hasher: CountingHasher) -> None:
    with live.client() as c:
        for n in range(5):
            assert attempt(c, Kit.POLIS, "fel lösenord 123", f"198.51.100.{n}").status_code == 401
        assert attempt(c, Kit.POLIS, Kit.PASSWORD, "198.51.100.99").status_code == 429
        # Another account is not locked by it.
        assert attempt(c, Kit.FRITID, Kit.PASSWORD, "198.51.100.99").status_code == 303


def test_an_address_guessing_across_accounts_is_throttled(live: Live, hasher: CountingHasher) -> None:
    with live.client() as c:
        for n in range(20):
            assert attempt(c, f"gissning{n}@boras.example", "fel lösenord 123", "203.0.113.7").status_code == 401
        locked = attempt(c, Kit.OWNER, Kit.PASSWORD, "203.0.113.7")
        assert locked.status_code == 429 and locked.headers["retry-after"] == "900"
    with live.client() as other:
        assert attempt(other, Kit.OWNER, Kit.PASSWORD, "203.0.113.8").status_code == 303


def test_a_successful_sign_in_is_not_counted_as_a_failure(live: Live, hasher: CountingHasher) -> None:
    for _ in range(6):
        with live.client() as c:
            assert attempt(c, Kit.TEKNISKA, Kit.PASSWORD).status_code == 303
    with live.client() as c:
        for _ in range(4):
            assert attempt(c, Kit.TEKNISKA, "fel lösenord 123").status_code == 401
        assert attempt(c, Kit.TEKNISKA, Kit.PASSWORD).status_code == 303


def test_the_limits_are_settings(boras_due: Engine, hasher: CountingHasher, tmp_path: Path) -> None:
    clock = FixedClock(Kit.at(2027, 3, 1, 10))
    settings = Settings(mailer="file", mail_dir=tmp_path / "outbox", base_url="http://testserver")
    limits = SignInLimits(per_account="2/hour", per_address="100/hour")
    server = Kit.start_server(create_app(boras_due, settings, clock, secret=SECRET, sign_in=limits))
    try:
        with httpx.Client(base_url=server.url, follow_redirects=False, timeout=30) as c:
            for _ in range(2):
                assert attempt(c, Kit.OWNER, "fel lösenord 123").status_code == 401
            assert attempt(c, Kit.OWNER, Kit.PASSWORD).headers["retry-after"] == "3600"
    finally:
        Kit.stop_server(server)


@pytest.mark.parametrize("text", ["5/15 minuter", "0/hour", "5 per 15 minutes; 3/hour", ""])
def test_a_limit_that_cannot_be_read_is_one_swedish_line(text: str) -> None:
    from rules.errors import InvalidValue

    with pytest.raises(InvalidValue) as caught:
        SignInLimits(per_account=text)
    assert "per_account" in str(caught.value) and "t.ex. 5/15 minutes" in str(caught.value)


# -- at most two password checks at once -----------------------------------------------------


class HeldHasher(CountingHasher):
    """Each check waits until the test releases it, so the test sees how many run at once."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = 0
        self.most = 0
        self.changed = threading.Condition()
        self.release = threading.Event()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self.changed:
            self.inside += 1
            self.most = max(self.most, self.inside)
            self.changed.notify_all()
        try:
            self.release.wait(20)  # bounded: a test that fails does not hang
            return super().verify(hash, password)
        finally:
            with self.changed:
                self.inside -= 1
                self.changed.notify_all()


@pytest.fixture
def held(boras_due: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[str, HeldHasher]]:
    hasher = HeldHasher()
    monkeypatch.setattr(users, "_hasher", hasher)
    clock = FixedClock(Kit.at(2027, 3, 1, 10))
    settings = Settings(mailer="file", mail_dir=tmp_path / "outbox", base_url="http://testserver")
    app = create_app(boras_due, settings, clock, secret=SECRET, sign_in=SignInLimits(wait_seconds=0))
    server = Kit.start_server(app)
    yield server.url, hasher
    hasher.release.set()
    Kit.stop_server(server)


def test_at_most_two_password_checks_run_at_once_and_the_third_is_told_to_wait(
    held: tuple[str, HeldHasher],
) -> None:
    url, hasher = held

    def sign_in(n: int) -> Any:
        with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as c:
            return attempt(c, f"anonym{n}@boras.example", "fel lösenord 123", f"192.0.2.{n}")

    with ThreadPoolExecutor(max_workers=2) as pool:
        running = [pool.submit(sign_in, n) for n in range(2)]
        with hasher.changed:
            assert hasher.changed.wait_for(lambda: hasher.inside == 2, timeout=20)
        with closing(httpx.Client(base_url=url, follow_redirects=False, timeout=30)) as c:
            busy = attempt(c, Kit.OWNER, Kit.PASSWORD, "192.0.2.50")
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "5"
        assert "Just nu prövas många inloggningar" in busy.text
        assert hasher.most == 2
        hasher.release.set()
        assert [f.result().status_code for f in running] == [401, 401]
    # The refused attempt was not counted against the account: it signs in now.
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as c:
        assert attempt(c, Kit.OWNER, Kit.PASSWORD, "192.0.2.50").status_code == 303


# -- what held -------------------------------------------------------------------------------


@pytest.mark.parametrize("nasta", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_sign_in_never_sends_the_browser_to_another_site(live: Live, nasta: str) -> None:
    with live.client() as c:
        page = c.get("/logga-in")
        data = {"csrf": Kit.csrf_of(page.text), "email": Kit.OWNER, "losenord": Kit.PASSWORD, "nasta": nasta}
        answer = c.post("/logga-in", data=data)
        assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_sign_in_needs_the_form_token(live: Live) -> None:
    with live.client() as c:
        c.get("/logga-in")
        data = {"csrf": "gissad", "email": Kit.OWNER, "losenord": Kit.PASSWORD, "nasta": "/"}
        assert c.post("/logga-in", data=data).status_code == 403
        assert c.get("/").status_code == 303


def test_guessing_the_current_password_on_the_password_page_is_throttled_too(
    live: Live, hasher: CountingHasher
) -> None:
    with closing(live.signed_in(Kit.POLIS)) as c:
        new = "ett nytt långt lösenord"
        for _ in range(5):
            form = c.get("/konto/losenord")
            data = {"csrf": Kit.csrf_of(form.text), "nuvarande": "fel lösenord 123", "nytt": new, "nytt_igen": new}
            assert c.post("/konto/losenord", data=data).status_code == 401
        form = c.get("/konto/losenord")
        data = {"csrf": Kit.csrf_of(form.text), "nuvarande": Kit.PASSWORD, "nytt": new, "nytt_igen": new}
        locked = c.post("/konto/losenord", data=data)
        assert locked.status_code == 429 and "För många inloggningsförsök" in locked.text
    with live.client() as other:
        assert attempt(other, Kit.POLIS, Kit.PASSWORD).status_code == 429
