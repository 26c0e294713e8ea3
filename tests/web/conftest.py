"""The web's fixtures: Borås with the first reminders due, users of each role, the app on a fixed clock.

``client`` is Starlette's TestClient (in-process); ``live_server`` runs the same app under
uvicorn on 127.0.0.1 and a free port, for the browser tests. ``smtp_server`` is a real
SMTP server (aiosmtpd) on 127.0.0.1. Time is a FixedClock the tests move; nothing sleeps.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine import db, users
from engine.agreement import Agreement
from engine.clock import FixedClock
from engine.plan import load_plan
from engine.tick import tick
from engine.users import add_user
from notifications.links import make_token
from notifications.settings import Settings, SmtpSettings
from web.app import create_app

STHLM = ZoneInfo("Europe/Stockholm")
SECRET = "test-secret-" + "x" * 40
PASSWORD = "rätt lösenord 123"
OWNER = "anna.andersson@boras.example"
POLIS = "kommunpolisen@polisen.example"
FRITID = "fritid@boras.example"
TEKNISKA = "tekniska@boras.example"
ISSUED = datetime(2027, 3, 1, 8, tzinfo=STHLM)  # when the first reminders go out


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=STHLM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def link_path(commitment: str, period: int = 2026, issued: datetime = ISSUED, secret: str = SECRET) -> str:
    return "/uppfoljning/" + make_token(secret, commitment, period, issued)


@pytest.fixture(autouse=True)
def _no_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test decides its secret and link lifetime itself."""
    monkeypatch.delenv("SAMVERKAN_SECRET", raising=False)
    monkeypatch.delenv("SAMVERKAN_LINK_DAYS", raising=False)


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its real cost takes ~0.4 s a hash here and the tests make many users;
    tests/samverkan/test_cli_web.py checks the real parameters."""
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def boras_due(engine: Engine, boras: Agreement, snapshots: Any) -> Engine:
    """Borås loaded in November 2026; on 1 March 2027 the first reminders (28) are queued.

    Users: the process owner, the police's party contact, and the contacts of two units.
    Built once per backend and session, then copied (tests/conftest.py's ``Snapshots``).
    """

    def build(engine: Engine) -> None:
        with db.transaction(engine) as s:
            load_plan(s, boras, now=at(2026, 11, 24, 9))
        tick(engine, at(2026, 11, 24, 9))
        assert tick(engine, ISSUED).notices == 28
        with db.transaction(engine) as s:
            now = at(2026, 11, 24)
            add_user(s, OWNER, role="owner", name="Anna Andersson", password=PASSWORD, now=now)
            add_user(s, POLIS, role="party", party="polis", name="Per Polis", password=PASSWORD, now=now)
            add_user(s, FRITID, role="unit", unit="fritid-folkhalsa", name="Frida Fritid", password=PASSWORD, now=now)
            add_user(s, TEKNISKA, role="unit", unit="tekniska", password=PASSWORD, now=now)

    return snapshots.restore(engine, "boras_due", build)  # type: ignore[no-any-return]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(at(2027, 3, 1, 10))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(mailer="file", mail_dir=tmp_path / "outbox", base_url="http://testserver")


@pytest.fixture
def app(boras_due: Engine, settings: Settings, clock: FixedClock) -> Starlette:
    return create_app(boras_due, settings, clock, secret=SECRET)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def login(client: TestClient, email: str, password: str = PASSWORD, nasta: str = "/") -> Any:
    page = client.get("/logga-in")
    return client.post(
        "/logga-in", data={"csrf": csrf_of(page.text), "email": email, "losenord": password, "nasta": nasta}
    )


# -- a live server for the browser -----------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


def start_server(app: Starlette, port: int | None = None) -> LiveServer:
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError(f"uvicorn did not start on 127.0.0.1:{port}")
        thread.join(0.02)  # a bounded wait on the server thread, polled against the deadline
    return LiveServer(url=f"http://127.0.0.1:{port}", server=server, thread=thread)


def stop_server(live: LiveServer) -> None:
    live.server.should_exit = True
    live.thread.join(10)


# -- a real SMTP server ----------------------------------------------------------------------


@dataclass
class Inbox:
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["X-Envelope-To"])]


@dataclass
class Smtp:
    port: int
    inbox: Inbox

    def settings(self, base_url: str) -> Settings:
        return Settings(
            mailer="smtp",
            sender="samverkan@boras.example",
            smtp=SmtpSettings(host="127.0.0.1", port=self.port, timeout_seconds=5),
            base_url=base_url,
        )


@pytest.fixture
def smtp_server() -> Iterator[Smtp]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield Smtp(port=port, inbox=inbox)
    controller.stop()


def body(msg: EmailMessage, kind: str = "plain") -> str:
    part = msg.get_body(preferencelist=(kind,))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


# The browser: Debian's Chromium driven by Playwright (its own download is never used).
CHROMIUM = Path(os.environ.get("SAMVERKAN_CHROMIUM", "/usr/bin/chromium"))
REQUIRE = os.environ.get("SAMVERKAN_REQUIRE_BROWSER") == "1"
# Headless as root, on a machine without a network: no sandbox, no GPU, no calls home.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("SAMVERKAN_ARTIFACTS", Path(__file__).resolve().parents[2] / "tmp" / "artifacts"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _unavailable(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"SAMVERKAN_REQUIRE_BROWSER=1 men {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} saknas (installera Debians chromium: apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright för Python saknas (pip install -e '.[dev]')")
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()
    finally:
        pw.stop()


@pytest.fixture
def live(app: Starlette) -> Iterator[LiveServer]:
    """The app under uvicorn on 127.0.0.1, for the browser."""
    server = start_server(app)
    yield server
    stop_server(server)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, locale="sv-SE")
    context.set_default_timeout(15_000)
    p = context.new_page()
    yield p
    context.close()


def shot(page: Any, name: str, *, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert 0 < path.stat().st_size < 300_000, f"{path}: {path.stat().st_size} bytes"
    return path


def browser_sign_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/")
    page.fill("#email", email)
    page.fill("#losenord", password)
    page.click("button:has-text('Logga in')")


class Kit:
    """What the web tests share besides fixtures (test modules cannot import a conftest)."""

    SECRET = SECRET
    PASSWORD = PASSWORD
    OWNER = OWNER
    POLIS = POLIS
    FRITID = FRITID
    TEKNISKA = TEKNISKA
    ISSUED = ISSUED
    at = staticmethod(at)
    csrf_of = staticmethod(csrf_of)
    link_path = staticmethod(link_path)
    login = staticmethod(login)
    body = staticmethod(body)
    start_server = staticmethod(start_server)
    free_port = staticmethod(free_port)
    stop_server = staticmethod(stop_server)
    PHONE = PHONE
    DESKTOP = DESKTOP
    VIEWPORTS: ClassVar[dict[str, dict[str, int]]] = {"desktop": DESKTOP, "390px": PHONE}
    shot = staticmethod(shot)
    sign_in = staticmethod(browser_sign_in)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
