"""Drills: the delivery guarantees under several instances, crashes, a misbehaving mail server
and a database restart.

Each drill runs at a small size by default (CI) and bigger by hand through environment
variables (docs/operations.md lists them), e.g.::

    DRILL_NOTICES=10000 DRILL_KILLS=20 .venv/bin/pytest -s tests/drills

Each prints its figures (``-s`` shows them as they come; the terminal summary repeats them).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Any, NoReturn
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

    def expected_ids(self) -> set[str | None]:
        """The Message-IDs the notices are marked sent with (a grouped mail's notices share one; None: unsent)."""
        with self.engine.connect() as conn:
            marked = {k: m for k, m in conn.execute(select(OutboxRow.key, OutboxRow.message_id)).all()}
        return {marked.get(k) for k in self.keys}


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
    # Each round of copies goes to addresses of its own (as another municipality's would), so
    # mail is grouped per address as it is by default, ~3.5 notices a mail, not 600 in 8.
    copies = [
        dataclasses.replace(n, key=f"drill:{i}:{n.key}", recipients=_of_round(n.recipients, i // REAL_REMINDERS))
        for i, n in zip(range(max(0, notices - REAL_REMINDERS)), _cycle(real), strict=False)
    ]
    with engine.begin() as conn:
        for start in range(0, len(copies), 5000):
            outbox.queue(conn, copies[start : start + 5000], LOADED)
    if tick_due:
        assert tick(engine, DUE).notices == REAL_REMINDERS
    return Prepared(engine=engine, url=url, keys={n.key for n in real} | {n.key for n in copies})


def _of_round(recipients: tuple[str, ...], round_: int) -> tuple[str, ...]:
    return tuple(f"{local}+r{round_}@{domain}" for local, domain in (a.split("@", 1) for a in recipients))


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

    def start(url: str, settings: Path, start_at: datetime, name: str, extra: Sequence[str] = ()) -> Instance:
        log = tmp_path / f"{name}.log"
        handle = log.open("ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("SAMVERKAN_DB", None)
        env.pop("SAMVERKAN_SETTINGS", None)
        proc = subprocess.Popen(
            [str(EXE), "run", "--db", url, "--settings", str(settings), "--from", start_at.isoformat(), *extra],
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


# -- a PostgreSQL cluster of the drill's own -------------------------------------------------


@dataclass
class PrivatePostgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1:``port`` (trust auth), for a drill that stops it.

    Never the shared server the rest of the suite uses: restarting that one would fail every
    other PostgreSQL test for a moment. ``run_as`` is the prefix that runs the server's
    programs as the ``postgres`` OS user when we are root (PostgreSQL refuses root).
    """

    bindir: Path
    home: Path  # owned by the server's user: data/, the Unix socket and server.log
    port: int
    run_as: list[str]

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def command(self, program: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.run_as, str(self.bindir / program), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.home,  # a folder the server's user may enter
        )

    def pg_ctl(self, action: str, *args: str) -> subprocess.CompletedProcess[str]:
        # -l: the server's output goes to a file, never to the pipes this process reads (pg_ctl would not end).
        return self.command("pg_ctl", action, "-D", str(self.data), "-l", str(self.home / "server.log"), *args)

    def start(self) -> None:
        self._check(self.pg_ctl("start", "-w", "-t", "60", "-o", self._options()), "start")

    def restart(self) -> None:
        """Stop (fast: clients are disconnected, as in a real restart) and start again; returns once it answers."""
        self._check(self.pg_ctl("restart", "-w", "-t", "60", "-m", "fast", "-o", self._options()), "restart")

    def stop(self) -> None:
        self.pg_ctl("stop", "-w", "-t", "60", "-m", "immediate")

    def _options(self) -> str:
        return f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1"

    def _check(self, done: subprocess.CompletedProcess[str], what: str) -> None:
        if done.returncode != 0:
            log = (self.home / "server.log").read_text(errors="replace") if (self.home / "server.log").exists() else ""
            raise AssertionError(f"pg_ctl {what} failed ({done.returncode}): {done.stdout}{done.stderr}\n{log}")


def _postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl are: SAMVERKAN_DRILL_PG_BINDIR, ``pg_config --bindir``, Debian's
    /usr/lib/postgresql/VERSION/bin (VERSION the one folder in /etc/postgresql), or PATH."""
    candidates: list[Path] = []
    if os.environ.get("SAMVERKAN_DRILL_PG_BINDIR"):
        candidates.append(Path(os.environ["SAMVERKAN_DRILL_PG_BINDIR"]))
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip():
            candidates.append(Path(found.stdout.strip()))
    versions = os.listdir("/etc/postgresql") if os.path.isdir("/etc/postgresql") else []
    if len(versions) == 1:
        candidates.append(Path("/usr/lib/postgresql") / versions[0] / "bin")
    if shutil.which("initdb"):
        candidates.append(Path(str(shutil.which("initdb"))).parent)
    return next((c for c in candidates if (c / "initdb").is_file() and (c / "pg_ctl").is_file()), None)


def _skip_or_fail(reason: str) -> NoReturn:
    """As the suite does for PostgreSQL (tests/conftest.py): a skip, a failure on CI."""
    if os.environ.get("SAMVERKAN_REQUIRE_PG") == "1":
        pytest.fail(f"SAMVERKAN_REQUIRE_PG=1 men {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this module's own: initdb in a temporary folder, started on a free
    port, stopped (``-m immediate``) and removed at the end. Skips when initdb/pg_ctl are not
    installed, unless SAMVERKAN_REQUIRE_PG=1."""
    bindir = _postgres_bindir()
    if bindir is None:
        _skip_or_fail("initdb och pg_ctl saknas (installera PostgreSQL-servern, t.ex. paketet postgresql)")
    run_as: list[str] = []
    owner: tuple[int, int] | None = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: its programs run as the user postgres
        runuser = shutil.which("runuser")
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            _skip_or_fail("vi kör som root och det finns ingen användare postgres att köra PostgreSQL som")
        if runuser is None:
            _skip_or_fail("vi kör som root och runuser saknas (util-linux) för att köra PostgreSQL som postgres")
        run_as = [runuser, "-u", "postgres", "--"]
        owner = (user.pw_uid, user.pw_gid)
    home = Path(tempfile.mkdtemp(prefix="samverkan-pg-"))
    if owner is not None:
        os.chown(home, *owner)
    cluster = PrivatePostgres(bindir=bindir, home=home, port=free_port(), run_as=run_as)
    try:
        made = cluster.command(
            "initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"
        )
        assert made.returncode == 0, f"initdb failed: {made.stdout}{made.stderr}"
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(home, ignore_errors=True)
