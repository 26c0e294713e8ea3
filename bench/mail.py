"""Sending the outbox over SMTP: the real dispatcher beside aiosmtplib's ceiling and a naive design.

Usage::

    .venv/bin/python bench/mail.py [--count 10000] [--connections 4] [--naive-count 2000]
                                   [--repeat 3] [--profile-count 2000] [--no-split]

Three processes
---------------
The server, the aiosmtplib client (ceiling and naive) and this process (the dispatcher)
are separate processes, so none of them shares a GIL or a heap with another: the
client's 10,000 pre-built messages cannot slow the dispatcher's garbage collector.

The server
----------
An aiosmtpd ``Controller`` on 127.0.0.1 (a free port) runs in a separate process
(multiprocessing, spawn), so its CPU does not share a GIL with the client being
measured. Its handler only counts: it accepts every message with 250 and keeps the
Message-ID (a regex over the raw bytes, no MIME parsing), so each phase can check that
every message arrived exactly once. The same server serves every phase of the run.

The database
------------
A SQLite file in a temporary directory, schema by ``engine.db.upgrade``, with copies of
the Borås agreement (config/boras-2015.yaml, agreement ids ``boras-0000`` …) loaded by
``engine.plan.load_plan`` at NOW = 2026-11-24 09:00 Europe/Stockholm, as many as
``--count`` reminders need, and ``--count`` pending outbox rows written by
``engine.outbox.queue``: kind ``reminder``, key ``reminder:<commitment>:<period>:<offset>``
for the live commitments in turn, their open period (2026) and the offsets −30, −7 and 0
(so every key is unique and every notice is one the dispatcher's claim-time check finds
still due), recipient the responsible unit's e-mail, data ``{"period", "due":
<period+1>-03-31, "days_left", "offset_days"}``, ``send_at`` = NOW. Every phase that writes gets
its own copy of this file.

What is measured (wall clock, ``time.perf_counter``)
----------------------------------------------------
* ``dispatcher``: ``notifications.dispatcher.deliver(engine, NOW, Settings(mailer="smtp",
  smtp=SmtpSettings(port=…, connections=C)))`` on a fresh copy: claim, render, build
  MIME, send through SmtpMailer, mark, in batches of ``batch_size`` (200); within a batch
  each mail is built when SmtpMailer takes it (read ahead by one per connection), so
  building overlaps the server's work. Checked: the report says ``count`` sent and
  nothing retried or failed, the server received ``count`` messages with ``count``
  distinct Message-IDs, and every row is ``sent``.
* ``ceiling``: aiosmtplib alone, in the client process, C connections opened once and
  reused, in parallel, sending the very same ``count`` messages, built beforehand (by
  the dispatcher's own ``_prepare`` on the same rows, not timed; then ``gc.freeze()``),
  with ``SMTP.sendmail(sender, recipients, raw bytes)``, as SmtpMailer does. It does no
  database work, no rendering and no MIME building.
* ``naive``: one new connection per message, ``aiosmtplib.send``, C in parallel, in
  the client process, on the first ``--naive-count`` of those messages (2,000 by
  default; its rate does not depend on the count).

Each approach also reports the CPU time its client process and the server process
used (``time.process_time``), as a share of the wall time: which side was busy.

The three run ``--repeat`` times, interleaved (ceiling, dispatcher, naive, ceiling, …),
and the table shows each one's median round; the ratio is to the median ceiling.

Then, not part of the table:

* the dispatcher's time split, on another fresh copy, from timing wrappers put on
  ``claim``, ``withdraw_claimed``, ``_plan`` (and inside it ``contexts``), ``_build`` (and inside it ``render``,
  ``_ics``, ``message.build``), ``_mark`` and the mailer's ``send_all``; ``send_all``
  pulls the ``_build`` calls, so its own share is shown less them. What remains is
  loading the claimed rows into ORM objects and ``asyncio.run``'s loop set-up. The time
  spent in the garbage collector (``gc.callbacks``), wherever it ran, is shown beside;
* a cProfile run of ``deliver(limit=--profile-count)`` on yet another copy: the top
  functions by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import multiprocessing as mp
import os
import pstats
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosmtplib
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, and_, select
from sqlalchemy.orm import Session

from engine import db
from engine.agreement import parse_agreement
from engine.models import Commitment, OutboxRow, UnitRow
from engine.outbox import queue
from engine.plan import load_plan
from notifications import compose, dispatcher
from notifications import message as mime
from notifications.mailers import Mailer, Outgoing, SendResult
from notifications.mailers.smtp import SmtpMailer
from notifications.settings import Settings, SmtpSettings
from rules.model import QueueNotice
from samverkan.cli import settle_memory

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "boras-2015.yaml"
ZONE = ZoneInfo("Europe/Stockholm")
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=ZONE)
HOST = "127.0.0.1"
SENDER = "samverkan@boras.example"
TARGET = 0.7

DISPATCHER = "dispatcher"
CEILING = "ceiling"
NAIVE = "naive"
LABELS = {
    DISPATCHER: "dispatcher (deliver, SmtpMailer)",
    CEILING: "ceiling: aiosmtplib, C reused connections",
    NAIVE: "naive: new connection per message",
}


# --------------------------------------------------------------------------- the server


MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


class CountingHandler:
    """Accepts every message; keeps only its Message-ID."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        match = MESSAGE_ID.search(envelope.content)
        with self.lock:
            self.ids.append(match.group(1) if match else b"")
        return "250 Message accepted for delivery"

    def take(self) -> list[bytes]:
        with self.lock:
            ids, self.ids = self.ids, []
        return ids


def serve(port: int, conn: Connection) -> None:
    """The server process: answer ``take`` with (received, distinct, repeated, CPU seconds) until ``stop``."""
    handler = CountingHandler()
    controller = Controller(handler, hostname=HOST, port=port)
    controller.start()
    conn.send("ready")
    try:
        while conn.recv() == "take":
            counts = Counter(handler.take())
            cpu = time.process_time()  # this process, every thread: the server's CPU seconds so far
            conn.send((sum(counts.values()), len(counts), sum(1 for n in counts.values() if n > 1), cpu))
    finally:
        controller.stop()


@dataclass(frozen=True)
class Arrivals:
    received: int
    distinct: int
    repeated: int
    server_cpu: float  # the server's CPU seconds since the previous take


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Sink:
    """The server in its own process; ``take`` returns and resets what it has counted."""

    def __init__(self) -> None:
        self.port = free_port()
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(self.port, child), daemon=True)
        self.cpu = 0.0

    def start(self) -> None:
        self.process.start()
        if not self.conn.poll(60) or self.conn.recv() != "ready":
            raise RuntimeError("the SMTP sink did not start")

    def take(self) -> Arrivals:
        self.conn.send("take")
        received, distinct, repeated, cpu = self.conn.recv()
        used, self.cpu = cpu - self.cpu, cpu
        return Arrivals(received, distinct, repeated, used)

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(10)


# --------------------------------------------------------------------------- the database


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


# The reminders of the open period, at each of the file's offsets: a notice the dispatcher's
# claim-time check (engine.withdraw.withdraw_stale) finds still due, as a real one would be.
OFFSETS = ((-30, 30), (-7, 7), (0, 0))
LIVE_PER_COPY = 28  # Borås's 30 commitments but Trafik's two, whose timeframe ended in 2018


def build_database(path: Path, count: int) -> int:
    """Copies of Borås loaded at NOW and ``count`` pending reminders; returns how many commitments they cycle over."""
    engine = db.connect(sqlite_url(path))
    text = CONFIG.read_text(encoding="utf-8")
    copies = -(-count // (LIVE_PER_COPY * len(OFFSETS)))
    try:
        db.upgrade(engine)
        with db.transaction(engine) as session:
            for k in range(copies):
                copy = text.replace("\n  id: boras\n", f"\n  id: boras-{k:04d}\n", 1)
                load_plan(session, parse_agreement(copy, f"boras-{k:04d}.yaml"), now=NOW)
        with db.transaction(engine) as session:
            targets = session.execute(
                select(Commitment.id, Commitment.agreement_id, UnitRow.email, Commitment.period)
                .join(
                    UnitRow,
                    and_(UnitRow.agreement_id == Commitment.agreement_id, UnitRow.id == Commitment.responsible),
                )
                .where(Commitment.state != "avslutad")
                .order_by(Commitment.id)
            ).all()
        notices = []
        for i in range(count):
            cid, aid, email, period = targets[i % len(targets)]
            offset, left = OFFSETS[i // len(targets)]
            notices.append(
                QueueNotice(
                    key=f"reminder:{cid}:{period}:{offset}",
                    kind="reminder",
                    recipients=(email,),
                    send_at=NOW,
                    agreement=aid,
                    commitment=cid,
                    period=period,
                    data={"period": period, "due": f"{period + 1}-03-31", "days_left": left, "offset_days": offset},
                )
            )
        with engine.begin() as conn:
            inserted = queue(conn, notices, NOW)
        if len(inserted) != count or states(engine) != {"pending": count}:
            raise RuntimeError(f"expected {count} pending outbox rows, found {states(engine)}")
        return len(targets)
    finally:
        engine.dispose()


def states(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        return Counter(session.scalars(select(OutboxRow.state)))


def copy_of(base: Path, name: str) -> Path:
    path = base.with_name(name)
    shutil.copyfile(base, path)
    return path


def settings_for(port: int, connections: int) -> Settings:
    return Settings(mailer="smtp", sender=SENDER, smtp=SmtpSettings(host=HOST, port=port, connections=connections))


def prebuilt(path: Path, settings: Settings) -> list[Outgoing]:
    """The messages the dispatcher would send for these rows, built by its own ``_prepare`` (not timed)."""
    engine = db.connect(sqlite_url(path))
    try:
        with Session(engine) as session:
            rows = list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))
            prepared = compose.prepare(session, rows, settings, NOW, None)
    finally:
        engine.dispose()
    out = [p.outgoing for p in prepared if p.outgoing is not None]
    if len(out) != len(rows):
        raise RuntimeError(f"{len(rows) - len(out)} messages could not be built")
    return out


# --------------------------------------------------------------------------- the three approaches


@dataclass
class Result:
    approach: str
    messages: int
    seconds: float
    client_cpu: float  # this process's CPU seconds during the phase
    server_cpu: float  # the server process's CPU seconds during the phase

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def check_arrivals(what: str, arrived: Arrivals, expected: int) -> Arrivals:
    if (arrived.received, arrived.distinct, arrived.repeated) != (expected, expected, 0):
        raise RuntimeError(f"{what}: expected {expected} messages once each, the server counted {arrived}")
    return arrived


def run_dispatcher(path: Path, sink: Sink, settings: Settings, count: int) -> Result:
    sink.take()
    settle_memory()  # as the samverkan console script does at start-up
    engine = db.connect(sqlite_url(path))
    try:
        cpu = time.process_time()
        start = time.perf_counter()
        report = dispatcher.deliver(engine, NOW, settings)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
        if (report.sent, report.messages, report.retried, report.failed) != (count, count, 0, 0):
            raise RuntimeError(f"dispatcher: unexpected report {report}")
        if (found := states(engine)) != {"sent": count}:
            raise RuntimeError(f"dispatcher: rows are {dict(found)}, not all sent")
    finally:
        engine.dispose()
    arrived = check_arrivals(DISPATCHER, sink.take(), count)
    return Result(DISPATCHER, count, seconds, cpu, arrived.server_cpu)


async def send_reused(items: Sequence[Outgoing], port: int, connections: int) -> int:
    """C workers, each with one connection kept for all its messages, taking from one shared list."""
    todo = list(reversed(items))
    sent = 0

    async def worker() -> None:
        nonlocal sent
        client = aiosmtplib.SMTP(hostname=HOST, port=port, start_tls=False)
        await client.connect()
        try:
            while todo:
                item = todo.pop()
                await client.sendmail(item.sender, list(item.recipients), item.raw)
                sent += 1
        finally:
            await client.quit()

    await asyncio.gather(*(worker() for _ in range(min(connections, len(items)))))
    return sent


async def send_naive(items: Sequence[Outgoing], port: int, connections: int) -> int:
    """C workers, each opening a new connection (connect, EHLO, send, QUIT) for every message."""
    todo = list(reversed(items))
    sent = 0

    async def worker() -> None:
        nonlocal sent
        while todo:
            item = todo.pop()
            await aiosmtplib.send(
                item.raw,
                sender=item.sender,
                recipients=list(item.recipients),
                hostname=HOST,
                port=port,
                start_tls=False,
            )
            sent += 1

    await asyncio.gather(*(worker() for _ in range(min(connections, len(items)))))
    return sent


def client(base: Path, port: int, connections: int, naive_count: int, conn: Connection) -> None:
    """The aiosmtplib client process: pre-builds the messages once, then runs ``ceiling``/``naive`` on request."""
    items = prebuilt(base, settings_for(port, connections))
    # The pre-built messages are held for the whole run: frozen, so the collector's full
    # passes during the sends do not walk them (the ceiling is a best case).
    gc.collect()
    gc.freeze()
    sizes = [len(i.raw) for i in items]
    conn.send((len(items), min(sizes), max(sizes), sum(sizes) / len(sizes)))
    while (approach := conn.recv()) in (CEILING, NAIVE):
        send, chosen = (send_reused, items) if approach == CEILING else (send_naive, items[:naive_count])
        cpu = time.process_time()
        start = time.perf_counter()
        sent = asyncio.run(send(chosen, port, connections))
        seconds = time.perf_counter() - start
        conn.send((sent, len(chosen), seconds, time.process_time() - cpu))


class Client:
    """The client process; ``run`` times one approach there and checks what the server received."""

    def __init__(self, base: Path, port: int, connections: int, naive_count: int) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=client, args=(base, port, connections, naive_count, child), daemon=True)

    def start(self) -> tuple[int, int, int, float]:
        """(messages, smallest, largest, mean size in bytes)."""
        self.process.start()
        if not self.conn.poll(3600):
            raise RuntimeError("the client process did not start")
        built: tuple[int, int, int, float] = self.conn.recv()
        return built

    def run(self, approach: str, sink: Sink) -> Result:
        sink.take()
        self.conn.send(approach)
        sent, messages, seconds, cpu = self.conn.recv()
        if sent != messages:
            raise RuntimeError(f"{approach}: sent {sent} of {messages}")
        arrived = check_arrivals(approach, sink.take(), messages)
        return Result(approach, messages, seconds, cpu, arrived.server_cpu)

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(10)


# --------------------------------------------------------------------------- the time split


@dataclass
class Split:
    total: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    gc_seconds: float = 0.0  # inside the parts: time in the garbage collector, wherever it ran
    _gc_started: float = 0.0

    def add(self, part: str, seconds: float) -> None:
        self.parts[part] = self.parts.get(part, 0.0) + seconds

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_seconds += time.perf_counter() - self._gc_started

    def lines(self, count: int) -> list[str]:
        build_parts = ["render", "_ics", "message.build"]
        inner = sum(self.parts.get(f"_build: {p}", 0.0) for p in build_parts)
        built = self.parts.get("_build", 0.0)
        rows = [
            ("claim", self.parts.get("claim", 0.0)),
            ("withdraw_claimed (is each still due?)", self.parts.get("withdraw_claimed", 0.0)),
            ("_plan (rows into template contexts)", self.parts.get("_plan", 0.0)),
            ("  contexts", self.parts.get("_plan: contexts", 0.0)),
            ("_build (pulled by send_all, one mail at a time)", built),
        ]
        rows += [(f"  {p}", self.parts.get(f"_build: {p}", 0.0)) for p in build_parts]
        rows.append(("  rest of _build (grouping, Message-ID, Outgoing)", built - inner))
        rows.append(("send_all, less the _build it pulled (SMTP)", self.parts.get("send_all", 0.0) - built))
        rows.append(("_mark", self.parts.get("_mark", 0.0)))
        accounted = sum(self.parts.get(p, 0.0) for p in ("claim", "withdraw_claimed", "_plan", "send_all", "_mark"))
        rows.append(("rest: rows into ORM objects, asyncio.run", self.total - accounted))
        rows.append(("(of all the above: garbage collection)", self.gc_seconds))
        return [
            f"  {part:<52} {sec:7.2f} s  {100 * sec / self.total:5.1f} %  {sec / count * 1e6:7.0f} µs/notice"
            for part, sec in rows
        ]


def timed(split: Split, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            split.add(part, time.perf_counter() - start)

    return wrapper


class TimedMailer:
    """SmtpMailer, with the wall time of each batch's ``send_all`` added to the split."""

    name = "smtp"

    def __init__(self, inner: Mailer, split: Split) -> None:
        self.inner = inner
        self.split = split

    async def send_all(self, batch: Iterable[Outgoing]) -> list[SendResult]:
        start = time.perf_counter()
        try:
            return await self.inner.send_all(batch)
        finally:
            self.split.add("send_all", time.perf_counter() - start)

    async def close(self) -> None:
        await self.inner.close()


@contextmanager
def patched(target: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, original)


def time_split(path: Path, sink: Sink, settings: Settings, count: int) -> Split:
    split = Split()
    sink.take()
    engine = db.connect(sqlite_url(path))
    hooks = [
        (dispatcher, "claim", "claim"),
        (dispatcher, "withdraw_claimed", "withdraw_claimed"),
        (compose, "plan", "_plan"),
        (compose, "contexts", "_plan: contexts"),
        (compose, "build", "_build"),
        (compose, "render", "_build: render"),
        (compose, "deadline_attachment", "_build: _ics"),
        (mime, "build", "_build: message.build"),
        (dispatcher, "_mark", "_mark"),
    ]
    try:
        with ExitStack() as stack:
            for target, name, part in hooks:
                stack.enter_context(patched(target, name, timed(split, part, getattr(target, name))))
            gc.callbacks.append(split.on_gc)
            stack.callback(gc.callbacks.remove, split.on_gc)
            start = time.perf_counter()
            report = dispatcher.deliver(engine, NOW, settings, mailer=TimedMailer(SmtpMailer(settings.smtp), split))
            split.total = time.perf_counter() - start
        if report.sent != count:
            raise RuntimeError(f"split run: unexpected report {report}")
    finally:
        engine.dispose()
    check_arrivals("split run", sink.take(), count)
    return split


def profile(path: Path, sink: Sink, settings: Settings, limit: int) -> str:
    sink.take()
    engine = db.connect(sqlite_url(path))
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        report = dispatcher.deliver(engine, NOW, settings, limit=limit)
        profiler.disable()
    finally:
        engine.dispose()
    check_arrivals("profile run", sink.take(), report.sent)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    out.write(f"cProfile of deliver(limit={limit}): {report.sent} sent\n")
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(15)
    return out.getvalue()


# --------------------------------------------------------------------------- main


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def median_result(results: list[Result]) -> Result:
    ordered = sorted(results, key=lambda r: r.seconds)
    return ordered[len(ordered) // 2]


def fmt(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=10_000, help="outbox rows and messages (default 10000)")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections in parallel (default 4)")
    parser.add_argument("--naive-count", type=int, default=2_000, help="messages for the naive design (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the three approaches (default 3)")
    parser.add_argument("--profile-count", type=int, default=2_000, help="notices in the cProfile run (0: skip)")
    parser.add_argument("--no-split", action="store_true", help="skip the timed split of the dispatcher")
    args = parser.parse_args(argv)
    count: int = args.count
    connections: int = args.connections
    naive_count = min(args.naive_count, count)

    sink = Sink()
    sink.start()
    print(
        f"Python {sys.version.split()[0]}, aiosmtplib {aiosmtplib.__version__}, {os.cpu_count()} CPUs; "
        f"aiosmtpd sink in process {sink.process.pid} on {HOST}:{sink.port}; load average {load()}",
        flush=True,
    )
    settings = settings_for(sink.port, connections)
    results: dict[str, list[Result]] = {CEILING: [], DISPATCHER: [], NAIVE: []}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-mail-") as tmp:
            base = Path(tmp) / "base.db"
            start = time.perf_counter()
            cycle = build_database(base, count)
            print(f"built {count} pending reminders over {cycle} commitments in {time.perf_counter() - start:.1f} s")
            start = time.perf_counter()
            clients = Client(base, sink.port, connections, naive_count)
            built, smallest, largest, mean = clients.start()
            print(
                f"client process {clients.process.pid} pre-built {built} messages in "
                f"{time.perf_counter() - start:.1f} s: {smallest}–{largest} bytes, mean {mean:,.0f}",
                flush=True,
            )
            try:
                for n in range(args.repeat):
                    ceiling = clients.run(CEILING, sink)
                    results[CEILING].append(ceiling)
                    dispatched = run_dispatcher(copy_of(base, f"round{n}.db"), sink, settings, count)
                    results[DISPATCHER].append(dispatched)
                    naive = clients.run(NAIVE, sink)
                    results[NAIVE].append(naive)
                    print(
                        f"round {n + 1}: ceiling {ceiling.rate:,.0f}  dispatcher {dispatched.rate:,.0f}  "
                        f"naive {naive.rate:,.0f} msg/s  (dispatcher/ceiling {dispatched.rate / ceiling.rate:.2f})",
                        flush=True,
                    )
            finally:
                clients.stop()

            split = None if args.no_split else time_split(copy_of(base, "split.db"), sink, settings, count)
            profiled = (
                profile(copy_of(base, "profile.db"), sink, settings, args.profile_count)
                if args.profile_count > 0
                else ""
            )
    finally:
        sink.stop()

    top = median_result(results[CEILING])
    print()
    print(f"{count} notices, C = {connections} connections, median of {args.repeat} rounds; load average {load()}")
    print()
    print("| approach | messages | seconds | msg/s | × ceiling | client CPU | server CPU |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for approach in (DISPATCHER, CEILING, NAIVE):
        r = median_result(results[approach])
        print(
            f"| {LABELS[approach]} | {r.messages:,} | {fmt(r.seconds, 2)} | {fmt(r.rate, 0)} | "
            f"{r.rate / top.rate:.2f} | {100 * r.client_cpu / r.seconds:.0f} % | "
            f"{100 * r.server_cpu / r.seconds:.0f} % |"
        )
    ratio = median_result(results[DISPATCHER]).rate / top.rate
    rounds = ", ".join(f"{d.rate / c.rate:.2f}" for d, c in zip(results[DISPATCHER], results[CEILING], strict=True))
    print()
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"target dispatcher ≥ {TARGET} × ceiling: {verdict} ({ratio:.2f}; per round {rounds})")

    if split is not None:
        print()
        print(f"dispatcher time split ({count} notices, {split.total:.2f} s, timing wrappers):")
        print("\n".join(split.lines(count)))
    if profiled:
        print()
        print(profiled)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
