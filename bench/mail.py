"""Sending the outbox over SMTP: the real dispatcher beside aiosmtplib's ceiling and a naive design.

Usage::

    .venv/bin/python bench/mail.py [--count 10000] [--connections 4] [--naive-count 2000]
                                   [--repeat 3] [--profile-count 2000] [--no-split] [--per-notice]

Mail is grouped by default (issue 13, ``Settings.digest``): what is due for one address
is one mail. So a *notice* (an outbox row) and a *message* (a mail on the wire) are
counted apart; the ratio is taken on messages per second, over the very same messages.

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
``--count`` reminders need (84 per copy: 28 live commitments × 3 offsets). Each copy has
addresses of its own, as another municipality would: the file's domains are rewritten
per copy before parsing (``brab@boras.example`` → ``brab@boras-0007.example``,
``kommunpolis@polisen.example`` → ``kommunpolis@polisen-0007.example``), so a copy's
notices go to its own units and grouping gives about 8 mails per copy, not 8 in all.
Then ``--count`` pending outbox rows written by
``engine.outbox.queue``: kind ``reminder``, key ``reminder:<commitment>:<period>:<offset>``
for the live commitments in turn, their open period (2026) and the offsets −30, −7 and 0
(so every key is unique and every notice is one the dispatcher's claim-time check finds
still due), recipient the responsible unit's e-mail, data ``{"period", "due":
<period+1>-03-31, "days_left", "offset_days"}``, ``send_at`` = NOW. Every phase that writes gets
its own copy of this file.

What is measured (wall clock, ``time.perf_counter``)
----------------------------------------------------
* ``dispatcher``: ``notifications.dispatcher.deliver(engine, NOW, Settings(mailer="smtp",
  smtp=SmtpSettings(port=…, connections=C)))`` on a fresh copy, with the settings'
  default grouping: claim (a batch of ``batch_size``, 200, completed with everything
  else due for its addresses), render, build MIME, send through SmtpMailer, mark;
  within a batch each mail is built when SmtpMailer takes it (read ahead by one per
  connection), so building overlaps the server's work, and the database work (claim
  and plan of the next batch, mark of the last) runs in the dispatcher's own thread
  while a batch is sent. Checked: the report says
  ``count`` notices sent in as many messages as the ceiling's, nothing retried or
  failed, the server received each of those messages once by Message-ID — the very
  same set of Message-IDs as the ceiling's — and every row is ``sent``.
* ``ceiling``: aiosmtplib alone, in the client process, C connections opened once and
  reused, in parallel, sending the very same messages, built beforehand (by the
  dispatcher's own ``compose.prepare`` on the same rows with the same settings, not
  timed; then ``gc.freeze()``; checked to cover every row once), with
  ``SMTP.sendmail(sender, recipients, raw bytes)``, as SmtpMailer does. It does no
  database work, no rendering and no MIME building.
* ``naive``: one new connection per message, ``aiosmtplib.send``, C in parallel, in
  the client process, on the first ``--naive-count`` of those messages (2,000 by
  default; its rate does not depend on the count).
* with ``--per-notice``, two more rows: the dispatcher with ``digest=False`` (one mail
  per notice, the figure before issue 13) and the ceiling on its own pre-built
  per-notice messages; that dispatcher's ratio is to that ceiling.

Each approach also reports the CPU time its client process and the server process
used (``time.process_time``), as a share of the wall time: which side was busy.

The approaches run ``--repeat`` times, interleaved (ceiling, dispatcher, naive, ceiling, …),
and the table shows each one's median round; the ratio is to the median ceiling of the
same messages.

Then, not part of the table:

* the (grouped) dispatcher's time split, on another fresh copy, from timing wrappers
  (``HOOKS``) put on ``claiming.claim``, ``claiming.withdraw_claimed``,
  ``compose.plan`` (and inside it ``compose.contexts`` and ``compose.prepare_calendar``),
  ``compose.build`` (and inside it ``compose.digest_context``, ``compose.render``, the
  .ics — ``compose.calendar_attachment`` or ``compose.deadline_attachment``, whichever the
  code has — and ``message.build``), ``dispatcher._mark`` and the mailer's ``send_all``;
  ``send_all`` pulls the ``build`` calls, so its own share is shown less them. The claim,
  withdrawal, plan and mark run in the database thread, overlapping ``send_all``, so the
  rest (the wall time less the parts) is below zero when they overlap. The time
  spent in the garbage collector (``gc.callbacks``), wherever it ran, is shown beside;
* a cProfile run of ``deliver(limit=--profile-count)`` on yet another copy: the top
  functions by cumulative and by own time (the limit counts notices claimed; a batch is
  completed with its addresses' other due notices, so a few more may go).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import hashlib
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
from notifications import claiming, compose, dispatcher
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
DISPATCHER_PER_NOTICE = "dispatcher-per-notice"
CEILING_PER_NOTICE = "ceiling-per-notice"
LABELS = {
    DISPATCHER: "dispatcher (deliver, SmtpMailer), grouped",
    CEILING: "ceiling: aiosmtplib, C reused connections, grouped",
    NAIVE: "naive: new connection per message, grouped",
    DISPATCHER_PER_NOTICE: "dispatcher, one mail per notice (digest=False)",
    CEILING_PER_NOTICE: "ceiling, one mail per notice",
}
# Which ceiling each approach's ratio is taken to: the one that sent the same messages.
CEILING_OF = {
    DISPATCHER: CEILING,
    CEILING: CEILING,
    NAIVE: CEILING,
    DISPATCHER_PER_NOTICE: CEILING_PER_NOTICE,
    CEILING_PER_NOTICE: CEILING_PER_NOTICE,
}
GROUPED = "grouped"
PER_NOTICE = "per-notice"


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
            ids = hashlib.sha256(b"\n".join(sorted(counts))).hexdigest()
            conn.send((sum(counts.values()), len(counts), sum(1 for n in counts.values() if n > 1), cpu, ids))
    finally:
        controller.stop()


@dataclass(frozen=True)
class Arrivals:
    received: int
    distinct: int
    repeated: int
    server_cpu: float  # the server's CPU seconds since the previous take
    ids: str  # a digest of the distinct Message-IDs received


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
        received, distinct, repeated, cpu, ids = self.conn.recv()
        used, self.cpu = cpu - self.cpu, cpu
        return Arrivals(received, distinct, repeated, used, ids)

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


def copy_text(text: str, k: int) -> str:
    """Copy ``k`` of the agreement file: its own id and its own addresses (a domain per copy)."""
    copy = text.replace("\n  id: boras\n", f"\n  id: boras-{k:04d}\n", 1)
    for domain in ("boras.example", "polisen.example"):
        name, _, tld = domain.partition(".")
        copy = copy.replace(f"@{domain}", f"@{name}-{k:04d}.{tld}")
    return copy


def build_database(path: Path, count: int) -> int:
    """Copies of Borås loaded at NOW and ``count`` pending reminders; returns how many commitments they cycle over."""
    engine = db.connect(sqlite_url(path))
    text = CONFIG.read_text(encoding="utf-8")
    copies = -(-count // (LIVE_PER_COPY * len(OFFSETS)))
    try:
        db.upgrade(engine)
        with db.transaction(engine) as session:
            for k in range(copies):
                load_plan(session, parse_agreement(copy_text(text, k), f"boras-{k:04d}.yaml"), now=NOW)
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


def settings_for(port: int, connections: int, mode: str = GROUPED) -> Settings:
    """The grouped run takes the settings' own default (``digest``); per notice turns it off."""
    smtp = SmtpSettings(host=HOST, port=port, connections=connections)
    if mode == PER_NOTICE:
        return Settings(mailer="smtp", sender=SENDER, smtp=smtp, digest=False)
    return Settings(mailer="smtp", sender=SENDER, smtp=smtp)


@dataclass(frozen=True)
class Built:
    """Pre-built messages and how many notices each one carries."""

    messages: list[Outgoing]
    notices: list[int]


def prebuilt(path: Path, settings: Settings) -> Built:
    """The messages the dispatcher would send for these rows, built by its own ``compose.prepare`` (not timed)."""
    engine = db.connect(sqlite_url(path))
    try:
        with Session(engine) as session:
            rows = list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))
            prepared = compose.prepare(session, rows, settings, NOW, None)
    finally:
        engine.dispose()
    failed = [p for p in prepared if p.outgoing is None]
    if failed:
        raise RuntimeError(f"{len(failed)} messages could not be built: {failed[0].error}")
    covered = Counter(i for p in prepared for i in p.ids)
    if set(covered) != {r.id for r in rows} or any(n != 1 for n in covered.values()):
        raise RuntimeError(f"the messages cover {len(covered)} of {len(rows)} notices, or some twice")
    return Built([p.outgoing for p in prepared if p.outgoing is not None], [len(p.ids) for p in prepared])


# --------------------------------------------------------------------------- the three approaches


@dataclass
class Result:
    approach: str
    messages: int
    notices: int
    seconds: float
    client_cpu: float  # this process's CPU seconds during the phase
    server_cpu: float  # the server process's CPU seconds during the phase
    ids: str  # the server's digest of the Message-IDs it received

    @property
    def rate(self) -> float:
        """Messages per second."""
        return self.messages / self.seconds

    @property
    def notice_rate(self) -> float:
        return self.notices / self.seconds


def check_arrivals(what: str, arrived: Arrivals, expected: int) -> Arrivals:
    if (arrived.received, arrived.distinct, arrived.repeated) != (expected, expected, 0):
        raise RuntimeError(f"{what}: expected {expected} messages once each, the server counted {arrived}")
    return arrived


@dataclass(frozen=True)
class Expected:
    """What a dispatcher run must send: the pre-built messages' count and Message-IDs."""

    messages: int
    ids: str


def run_dispatcher(path: Path, sink: Sink, settings: Settings, count: int, approach: str, expected: Expected) -> Result:
    sink.take()
    settle_memory()  # as the samverkan console script does at start-up
    engine = db.connect(sqlite_url(path))
    try:
        cpu = time.process_time()
        start = time.perf_counter()
        report = dispatcher.deliver(engine, NOW, settings)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
        if (report.sent, report.messages, report.retried, report.failed) != (count, expected.messages, 0, 0):
            raise RuntimeError(f"{approach}: unexpected report {report}, expected {expected.messages} messages")
        if (found := states(engine)) != {"sent": count}:
            raise RuntimeError(f"{approach}: rows are {dict(found)}, not all sent")
    finally:
        engine.dispose()
    arrived = check_arrivals(approach, sink.take(), expected.messages)
    if arrived.ids != expected.ids:
        raise RuntimeError(f"{approach}: the Message-IDs differ from the pre-built messages'")
    return Result(approach, report.messages, report.sent, seconds, cpu, arrived.server_cpu, arrived.ids)


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


@dataclass(frozen=True)
class Sizes:
    """One mode's pre-built messages: how many, the notices they carry, their sizes in bytes."""

    messages: int
    notices: int
    smallest: int
    largest: int
    mean: float
    most_notices: int  # in one message


def client(base: Path, port: int, connections: int, naive_count: int, modes: list[str], conn: Connection) -> None:
    """The aiosmtplib client process: pre-builds each mode's messages once, then sends them on request."""
    built = {mode: prebuilt(base, settings_for(port, connections, mode)) for mode in modes}
    # The pre-built messages are held for the whole run: frozen, so the collector's full
    # passes during the sends do not walk them (the ceiling is a best case).
    gc.collect()
    gc.freeze()
    sizes = {}
    for mode, b in built.items():
        raw = [len(i.raw) for i in b.messages]
        sizes[mode] = Sizes(len(raw), sum(b.notices), min(raw), max(raw), sum(raw) / len(raw), max(b.notices))
    conn.send(sizes)
    plans = {
        CEILING: (send_reused, built[GROUPED].messages, built[GROUPED].notices),
        NAIVE: (send_naive, built[GROUPED].messages[:naive_count], built[GROUPED].notices[:naive_count]),
    }
    if PER_NOTICE in built:
        plans[CEILING_PER_NOTICE] = (send_reused, built[PER_NOTICE].messages, built[PER_NOTICE].notices)
    while (approach := conn.recv()) in plans:
        send, chosen, notices = plans[approach]
        cpu = time.process_time()
        start = time.perf_counter()
        sent = asyncio.run(send(chosen, port, connections))
        seconds = time.perf_counter() - start
        conn.send((sent, len(chosen), sum(notices), seconds, time.process_time() - cpu))


class Client:
    """The client process; ``run`` times one approach there and checks what the server received."""

    def __init__(self, base: Path, port: int, connections: int, naive_count: int, modes: list[str]) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=client, args=(base, port, connections, naive_count, modes, child), daemon=True
        )

    def start(self) -> dict[str, Sizes]:
        """Per mode: the pre-built messages' count, notices and sizes."""
        self.process.start()
        if not self.conn.poll(3600):
            raise RuntimeError("the client process did not start")
        built: dict[str, Sizes] = self.conn.recv()
        return built

    def run(self, approach: str, sink: Sink) -> Result:
        sink.take()
        self.conn.send(approach)
        sent, messages, notices, seconds, cpu = self.conn.recv()
        if sent != messages:
            raise RuntimeError(f"{approach}: sent {sent} of {messages}")
        arrived = check_arrivals(approach, sink.take(), messages)
        return Result(approach, messages, notices, seconds, cpu, arrived.server_cpu, arrived.ids)

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

    def lines(self, notices: int, messages: int) -> list[str]:
        rows: list[tuple[str, float]] = []
        for hook in HOOKS:
            if hook.parent is None and hook.part in self.parts:
                total = self.parts[hook.part]
                rows.append((hook.label, total))
                children = [h for h in HOOKS if h.parent == hook.part and h.part in self.parts]
                rows += [(f"  {h.label}", self.parts[h.part]) for h in children]
                if children:
                    rows.append((f"  rest of {hook.name}", total - sum(self.parts[h.part] for h in children)))
            if hook.part == "build":
                # send_all pulls the build calls: its own share is the SMTP conversation.
                smtp = self.parts.get("send_all", 0.0) - self.parts.get("build", 0.0)
                rows.append(("send_all, less the build it pulled (SMTP)", smtp))
        top = [h.part for h in HOOKS if h.parent is None and h.part != "build"] + ["send_all"]
        # The database parts run in the dispatcher's own thread, overlapping send_all: the rest
        # is what the wall time has beyond their sum, and below zero when they overlap.
        rest = self.total - sum(self.parts.get(p, 0.0) for p in top)
        rows.append(("rest: wall time less the parts (< 0: they overlap)", rest))
        rows.append(("(of all the above: garbage collection)", self.gc_seconds))
        return [
            f"  {part:<56} {sec:7.2f} s  {100 * sec / self.total:5.1f} %  "
            f"{sec / notices * 1e6:7.0f} µs/notice  {sec / messages * 1e6:8.0f} µs/message"
            for part, sec in rows
        ]


@dataclass(frozen=True)
class Hook:
    """A function the time split wraps; ``parent``: the hook it is called inside."""

    target: Any
    name: str
    label: str
    parent: str | None = None

    @property
    def part(self) -> str:
        return self.name if self.parent is None else f"{self.parent}: {self.name}"


# In call order. A hook the code no longer has is left out of the split (and named).
HOOKS = [
    Hook(claiming, "claim", "claim (with the batch's addresses' other due ones)"),
    Hook(claiming, "withdraw_claimed", "withdraw_claimed (is each still due?)"),
    Hook(compose, "plan", "compose.plan (contexts, calendar, grouping)"),
    Hook(compose, "contexts", "contexts", "plan"),
    Hook(compose, "prepare_calendar", "prepare_calendar", "plan"),
    Hook(compose, "build", "compose.build (pulled by send_all, one mail at a time)"),
    Hook(compose, "digest_context", "digest_context", "build"),
    Hook(compose, "render", "render", "build"),
    Hook(compose, "calendar_attachment", "calendar_attachment (.ics)", "build"),
    Hook(compose, "deadline_attachment", "deadline_attachment (.ics)", "build"),
    Hook(mime, "build", "message.build", "build"),
    Hook(dispatcher, "_mark", "_mark"),
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


def time_split(path: Path, sink: Sink, settings: Settings, count: int, expected: Expected) -> tuple[Split, int]:
    """The split and the number of messages sent."""
    split = Split()
    sink.take()
    engine = db.connect(sqlite_url(path))
    missing = [f"{h.target.__name__}.{h.name}" for h in HOOKS if not hasattr(h.target, h.name)]
    if missing:
        print(f"time split: not in the code, left out: {', '.join(missing)}")
    try:
        with ExitStack() as stack:
            for h in HOOKS:
                if hasattr(h.target, h.name):
                    stack.enter_context(patched(h.target, h.name, timed(split, h.part, getattr(h.target, h.name))))
            gc.callbacks.append(split.on_gc)
            stack.callback(gc.callbacks.remove, split.on_gc)
            start = time.perf_counter()
            report = dispatcher.deliver(engine, NOW, settings, mailer=TimedMailer(SmtpMailer(settings.smtp), split))
            split.total = time.perf_counter() - start
        if (report.sent, report.messages) != (count, expected.messages):
            raise RuntimeError(f"split run: unexpected report {report}")
    finally:
        engine.dispose()
    check_arrivals("split run", sink.take(), expected.messages)
    return split, report.messages


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
    check_arrivals("profile run", sink.take(), report.messages)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    out.write(f"cProfile of deliver(limit={limit}): {report.sent} notices sent in {report.messages} messages\n")
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
    parser.add_argument("--count", type=int, default=10_000, help="outbox rows, i.e. notices (default 10000)")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections in parallel (default 4)")
    parser.add_argument("--naive-count", type=int, default=2_000, help="messages for the naive design (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the approaches (default 3)")
    parser.add_argument("--profile-count", type=int, default=2_000, help="notices in the cProfile run (0: skip)")
    parser.add_argument("--no-split", action="store_true", help="skip the timed split of the dispatcher")
    parser.add_argument(
        "--per-notice", action="store_true", help="also one mail per notice (digest=False) and its own ceiling"
    )
    args = parser.parse_args(argv)
    count: int = args.count
    connections: int = args.connections
    modes = [GROUPED, PER_NOTICE] if args.per_notice else [GROUPED]

    sink = Sink()
    sink.start()
    print(
        f"Python {sys.version.split()[0]}, aiosmtplib {aiosmtplib.__version__}, {os.cpu_count()} CPUs; "
        f"aiosmtpd sink in process {sink.process.pid} on {HOST}:{sink.port}; load average {load()}",
        flush=True,
    )
    settings = {mode: settings_for(sink.port, connections, mode) for mode in modes}
    order = [CEILING, DISPATCHER, NAIVE] + ([CEILING_PER_NOTICE, DISPATCHER_PER_NOTICE] if args.per_notice else [])
    results: dict[str, list[Result]] = {approach: [] for approach in order}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-mail-") as tmp:
            base = Path(tmp) / "base.db"
            start = time.perf_counter()
            cycle = build_database(base, count)
            print(f"built {count} pending reminders over {cycle} commitments in {time.perf_counter() - start:.1f} s")
            start = time.perf_counter()
            clients = Client(base, sink.port, connections, args.naive_count, modes)
            sizes = clients.start()
            print(f"client process {clients.process.pid} pre-built in {time.perf_counter() - start:.1f} s:")
            for mode, z in sizes.items():
                print(
                    f"  {mode}: {z.messages:,} messages for {z.notices:,} notices "
                    f"({z.notices / z.messages:.1f} per message, at most {z.most_notices}), "
                    f"{z.smallest:,}–{z.largest:,} bytes, mean {z.mean:,.0f}",
                    flush=True,
                )
            expected: dict[str, Expected] = {}
            try:
                for n in range(args.repeat):
                    line = []
                    for approach in order:
                        if approach in (DISPATCHER, DISPATCHER_PER_NOTICE):
                            mode = GROUPED if approach == DISPATCHER else PER_NOTICE
                            ceiling = results[CEILING_OF[approach]][-1]
                            want = expected.setdefault(mode, Expected(ceiling.messages, ceiling.ids))
                            path = copy_of(base, f"round{n}-{mode}.db")
                            result = run_dispatcher(path, sink, settings[mode], count, approach, want)
                        else:
                            result = clients.run(approach, sink)
                        results[approach].append(result)
                        line.append(f"{approach} {result.rate:,.0f}")
                    ratios = ", ".join(
                        f"{d}/{CEILING_OF[d]} {results[d][-1].rate / results[CEILING_OF[d]][-1].rate:.2f}"
                        for d in order
                        if d in (DISPATCHER, DISPATCHER_PER_NOTICE)
                    )
                    print(f"round {n + 1}: {'  '.join(line)} msg/s  ({ratios})", flush=True)
            finally:
                clients.stop()

            split = None
            if not args.no_split:
                split = time_split(copy_of(base, "split.db"), sink, settings[GROUPED], count, expected[GROUPED])
            profiled = (
                profile(copy_of(base, "profile.db"), sink, settings[GROUPED], args.profile_count)
                if args.profile_count > 0
                else ""
            )
    finally:
        sink.stop()

    print()
    print(
        f"{count} notices, C = {connections} connections, median of {args.repeat} rounds; load average {load()}; "
        "× ceiling: messages per second over the ceiling's on the same messages"
    )
    print()
    print("| approach | messages | notices | seconds | msg/s | notices/s | × ceiling | client CPU | server CPU |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    shown = [DISPATCHER, CEILING, NAIVE] + ([DISPATCHER_PER_NOTICE, CEILING_PER_NOTICE] if args.per_notice else [])
    for approach in shown:
        r = median_result(results[approach])
        top = median_result(results[CEILING_OF[approach]])
        print(
            f"| {LABELS[approach]} | {r.messages:,} | {r.notices:,} | {fmt(r.seconds, 2)} | {fmt(r.rate, 0)} | "
            f"{fmt(r.notice_rate, 0)} | {r.rate / top.rate:.2f} | {100 * r.client_cpu / r.seconds:.0f} % | "
            f"{100 * r.server_cpu / r.seconds:.0f} % |"
        )
    print()
    for approach in (DISPATCHER, DISPATCHER_PER_NOTICE):
        if approach not in results:
            continue
        of = CEILING_OF[approach]
        ratio = median_result(results[approach]).rate / median_result(results[of]).rate
        rounds = ", ".join(f"{d.rate / c.rate:.2f}" for d, c in zip(results[approach], results[of], strict=True))
        verdict = "met" if ratio >= TARGET else "NOT met"
        print(f"target {approach} ≥ {TARGET} × {of} (msg/s): {verdict} ({ratio:.2f}; per round {rounds})")

    if split is not None:
        timings, messages = split
        print()
        print(f"grouped dispatcher time split ({count} notices, {messages} messages, {timings.total:.2f} s):")
        print("\n".join(timings.lines(count, messages)))
    if profiled:
        print()
        print(profiled)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
