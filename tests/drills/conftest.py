"""Drills: the delivery guarantees under several instances, crashes and a misbehaving mail server.

Each drill runs at a small size by default (CI) and bigger by hand through environment
variables (docs/operations.md lists them), e.g.::

    DRILL_NOTICES=10000 DRILL_KILLS=20 .venv/bin/pytest -s tests/drills

Each prints its figures (``-s`` shows them as they come; the terminal summary repeats them).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, func, select

from engine import db, outbox
from engine.agreement import Agreement, load_agreement
from engine.models import OutboxRow
from engine.plan import load_plan
from engine.tick import NoticeQueued, tick
from notifications import message as mime
from rules.model import QueueNotice

ROOT = Path(__file__).resolve().parents[2]
BORAS = ROOT / "config" / "boras-2015.yaml"
EXE = Path(sys.executable).parent / "samverkan"
STHLM = ZoneInfo("Europe/Stockholm")
SENDER = "samverkan@boras.example"
# Borås loaded on LOADED; at DUE the first reminder of 28 commitments goes out (README).
LOADED = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
DUE = datetime(2027, 3, 1, 8, 0, tzinfo=STHLM)
REAL_REMINDERS = 28

_FIGURES: list[tuple[str, dict[str, Any]]] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "drill_pg_restart: restarts the PostgreSQL server (runs only with SAMVERKAN_DRILL_PG_RESTART=1)",
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("drill figures")
    for name, figures in _FIGURES:
        terminalreporter.write_line(f"{name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@pytest.fixture
def report() -> Callable[..., None]:
    """Print a drill's figures now and again in the terminal summary."""

    def record(name: str, **figures: Any) -> None:
        print(f"\n[{name}] " + ", ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
        _FIGURES.append((name, figures))

    return record


# -- the mail server ---------------------------------------------------------------------


@dataclass
class Chaos:
    """A server that keeps every Message-ID it accepted and misbehaves on request.

    Faults are drawn per message at DATA, from a seeded generator:
    ``p_4xx`` answer 421 or 451; ``p_drop`` drop the connection without an answer;
    ``p_stall`` say nothing for ``stall_seconds`` (past the client's timeout), having —
    with ``p_stall_accept`` — kept the message already, as a slow real server may.
    ``refuse`` maps an address to its RCPT answer (e.g. 550). ``delay`` is the
    server's own pace per message.
    """

    seed: int = 0
    delay: float = 0.0
    p_4xx: float = 0.0
    p_drop: float = 0.0
    p_stall: float = 0.0
    p_stall_accept: float = 0.5
    stall_seconds: float = 2.0
    refuse: dict[str, str] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    first: float = 0.0  # time.monotonic() of the first and the last message kept
    last: float = 0.0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            self.faults["refused"] += 1
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def _keep(self, content: bytes) -> None:
        mid = BytesHeaderParser(policy=compat32).parsebytes(content)["Message-ID"]
        with self.lock:
            self.ids.append(str(mid).strip())
            self.last = time.monotonic()
            self.first = self.first or self.last

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.in_flight += 1
        try:
            if self.delay:
                await asyncio.sleep(self.delay)  # the server's own pace, not a test's wait
            draw = self.rng.random()
            if draw < self.p_4xx:
                self.faults["4xx"] += 1
                return self.rng.choice(["421 4.7.0 Try again later, closing", "451 4.3.0 Temporary failure"])
            draw -= self.p_4xx
            if draw < self.p_drop:
                self.faults["drop"] += 1
                server.transport.abort()
                return "421 4.4.2 dropped"  # nobody reads it: the connection is gone
            draw -= self.p_drop
            if draw < self.p_stall:
                self.faults["stall"] += 1
                if self.rng.random() < self.p_stall_accept:  # kept, but the answer comes too late
                    self.faults["stall_kept"] += 1
                    self._keep(envelope.content)
                # The misbehaving server, past the client's timeout (aiosmtpd cancels this when the client hangs up).
                await asyncio.sleep(self.stall_seconds)
                return "250 accepted late"
            self._keep(envelope.content)
            return "250 Message accepted for delivery"
        finally:
            with self.lock:
                self.in_flight -= 1

    def received(self) -> int:
        with self.lock:
            return len(self.ids)

    def rate(self) -> float:
        """Messages kept per second, first to last."""
        with self.lock:
            span = self.last - self.first
            return round(len(self.ids) / span, 1) if span > 0 else 0.0

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.ids)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def chaos_server() -> Iterator[Callable[..., tuple[int, Chaos]]]:
    """Start an aiosmtpd server on 127.0.0.1 in this process (a thread): ``start(**Chaos fields)``."""
    controllers: list[Controller] = []

    def start(**kw: Any) -> tuple[int, Chaos]:
        handler = Chaos(**kw)
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return port, handler

    yield start
    for c in controllers:
        c.stop()


# -- the notices -------------------------------------------------------------------------


@dataclass
class Prepared:
    engine: Engine
    url: str
    keys: set[str]  # what must be delivered (the real reminders are queued by the instances' tick)

    def expected_ids(self) -> set[str]:
        return {mime.message_id(k, SENDER) for k in self.keys}


def _real_reminders(boras: Agreement) -> list[QueueNotice]:
    """The 28 reminders the tick queues at DUE, computed on a throwaway in-memory database."""
    scratch = db.connect("sqlite://")
    db.upgrade(scratch)
    with db.transaction(scratch) as s:
        load_plan(s, boras, now=LOADED)
    tick(scratch, LOADED)
    found = [e.notice for e in tick(scratch, DUE).events if isinstance(e, NoticeQueued)]
    scratch.dispose()
    assert len(found) == REAL_REMINDERS
    return found


def prepare(url: str, notices: int, *, tick_due: bool = False) -> Prepared:
    """Borås on ``url`` before DUE, plus copies of its reminders in the outbox, ``notices`` in all.

    The copies carry keys of their own (so Message-IDs of their own) and are due at DUE.
    With ``tick_due`` the 28 real reminders are queued here too (a tick at DUE);
    otherwise the instances' own tick queues them.
    """
    boras = load_agreement(BORAS)
    engine = db.connect(url)
    db.upgrade(engine)
    with db.transaction(engine) as s:
        load_plan(s, boras, now=LOADED)
    tick(engine, LOADED)
    real = _real_reminders(boras)
    copies = [
        dataclasses.replace(n, key=f"drill:{i}:{n.key}")
        for i, n in zip(range(max(0, notices - REAL_REMINDERS)), _cycle(real), strict=False)
    ]
    with engine.begin() as conn:
        for start in range(0, len(copies), 5000):
            outbox.queue(conn, copies[start : start + 5000], LOADED)
    if tick_due:
        assert tick(engine, DUE).notices == REAL_REMINDERS
    return Prepared(engine=engine, url=url, keys={n.key for n in real} | {n.key for n in copies})


def _cycle(items: list[QueueNotice]) -> Iterator[QueueNotice]:
    while True:
        yield from items


def outbox_states(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(dict(conn.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state)).all()))


def wait_until(condition: Callable[[], bool], limit: float, what: str, poll: float = 0.1) -> float:
    """Poll ``condition`` until it holds; fail after ``limit`` seconds. Returns the seconds waited."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > limit:
            raise AssertionError(f"{what}: not reached in {limit:.0f} s")
        time.sleep(poll)
    return time.monotonic() - start


def settled(engine: Engine, expected: int) -> Callable[[], bool]:
    """Every row sent or failed, none pending or sending, and at least ``expected`` rows."""

    def check() -> bool:
        states = outbox_states(engine)
        return states["pending"] == 0 and states["sending"] == 0 and sum(states.values()) >= expected

    return check


# -- instances ---------------------------------------------------------------------------


def write_settings(path: Path, port: int, **overrides: Any) -> Path:
    data: dict[str, Any] = {
        "mailer": "smtp",
        "sender": SENDER,
        "smtp": {"host": "127.0.0.1", "port": port, "timeout_seconds": 5, "connections": 4},
    }
    smtp = overrides.pop("smtp", {})
    data["smtp"].update(smtp)
    data.update(overrides)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@dataclass
class Instance:
    proc: subprocess.Popen[bytes]
    log: Path
    started: float

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, once the instance has its signal handlers (it logs "startar" right after)."""
        if self.proc.poll() is None:
            wait_until(lambda: "startar" in self.text() or self.proc.poll() is not None, 60, "instance started")
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture
def instances(tmp_path: Path) -> Iterator[Callable[..., Instance]]:
    """Start ``samverkan run`` subprocesses; any still running at the end are killed."""
    started: list[Instance] = []

    def start(url: str, settings: Path, start_at: datetime, name: str) -> Instance:
        log = tmp_path / f"{name}.log"
        handle = log.open("ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("SAMVERKAN_DB", None)
        env.pop("SAMVERKAN_SETTINGS", None)
        proc = subprocess.Popen(
            [str(EXE), "run", "--db", url, "--settings", str(settings), "--from", start_at.isoformat()],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
        handle.close()
        inst = Instance(proc=proc, log=log, started=time.monotonic())
        started.append(inst)
        return inst

    yield start
    for inst in started:
        if inst.proc.poll() is None:
            inst.proc.kill()
            inst.proc.wait(timeout=30)


def after(at: datetime, seconds: float) -> datetime:
    return at + timedelta(seconds=seconds)


@pytest.fixture
def drill() -> Any:
    """This module's helpers (drill.prepare, drill.wait_until, …) for the drills."""
    import types

    return types.SimpleNamespace(**{k: v for k, v in globals().items() if not k.startswith("_")})


@pytest.fixture
def own_pg_url() -> Iterator[str]:
    """Like the suite's ``pg_url`` (skip when unreachable, fail with SAMVERKAN_REQUIRE_PG=1), for a drill
    that restarts the server: the schema is created and dropped through a pool that pings first,
    so the clean-up survives the restart."""
    import uuid

    from sqlalchemy import create_engine, text

    pg = os.environ.get("SAMVERKAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        admin = create_engine(pg, pool_pre_ping=True, connect_args={"connect_timeout": 3})
        with admin.begin() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # any failure to connect means "not reachable"
        reason = f"PostgreSQL på {db.redact(pg)} svarar inte: {str(exc).splitlines()[0]}"
        if os.environ.get("SAMVERKAN_REQUIRE_PG") == "1":
            pytest.fail(f"SAMVERKAN_REQUIRE_PG=1 men {reason}")
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in pg else "?"
    yield f"{pg}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
