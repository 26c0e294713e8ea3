"""The security suite's fixtures: the real server (uvicorn on 127.0.0.1) and the CLI.

Every finding of the outside attack (issue 14) is reproduced here the way the attacker
did it: over HTTP against the app served by uvicorn on a free port (``live``), or by
running the CLI (``cli``) in this process with the test's clock. The Borås database
with users of each role (``boras_due``), the SMTP server (``smtp_server``) and the helpers (``kit``) are the web tests'
own, shared rather than copied. Loads are bounded: no test sends more than a few
hundred requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import Engine

from engine.clock import FixedClock
from notifications.settings import Settings
from samverkan.cli import main
from tests.web.conftest import (
    SECRET,
    Kit,
    LiveServer,
    _cheap_password_hashes,
    _no_secret_from_the_environment,
    at,
    boras_due,
    kit,
    smtp_server,
    start_server,
    stop_server,
)
from web.app import create_app

__all__ = [
    "_cheap_password_hashes",
    "_no_secret_from_the_environment",
    "boras_due",
    "kit",
    "smtp_server",
]


class _Client(httpx.Client):
    """An httpx client that may be used in a ``with`` after its first request (httpx refuses that)."""

    def __enter__(self) -> _Client:
        return self


@dataclass
class Live:
    """The app served by uvicorn; ``client()`` is a fresh httpx client with its own cookies."""

    url: str
    clock: FixedClock
    engine: Engine
    server: LiveServer

    def client(self) -> httpx.Client:
        return _Client(base_url=self.url, follow_redirects=False, timeout=30)

    def signed_in(self, email: str, password: str = Kit.PASSWORD) -> httpx.Client:
        """A client signed in as ``email``; usable as is or as ``with live.signed_in(Kit.OWNER) as c:``."""
        c = self.client()
        page = c.get("/logga-in")
        answer = c.post(
            "/logga-in",
            data={"csrf": Kit.csrf_of(page.text), "email": email, "losenord": password, "nasta": "/"},
        )
        assert answer.status_code == 303, answer.text
        return c


@pytest.fixture
def live(boras_due: Engine, tmp_path: Path) -> Iterator[Live]:
    clock = FixedClock(at(2027, 3, 1, 10))
    settings = Settings(mailer="file", mail_dir=tmp_path / "outbox", base_url="http://testserver")
    server = start_server(create_app(boras_due, settings, clock, secret=SECRET))
    yield Live(url=server.url, clock=clock, engine=boras_due, server=server)
    stop_server(server)


@dataclass
class Cli:
    """The CLI run in this process: ``(exit code, stdout, stderr)``."""

    capsys: pytest.CaptureFixture[str]
    clock: FixedClock

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = main(list(argv), clock=self.clock)
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys=capsys, clock=FixedClock(at(2026, 11, 24, 9)))
