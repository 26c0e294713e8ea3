"""The dispatcher: claim due notices from the outbox, render, send, mark — losing none.

1. **Claim** (one short transaction): ``UPDATE outbox SET state='sending', claimed_by,
   claimed_at WHERE id IN (SELECT id … LIMIT n [FOR UPDATE SKIP LOCKED]) AND still
   claimable RETURNING id``, first for rows whose lease has run out, then for due
   rows. On PostgreSQL ``SKIP LOCKED`` lets several dispatchers take disjoint rows; on
   SQLite the UPDATE takes the single write lock, so the claim is single-writer. A row
   left ``sending`` longer than the lease belongs to a dispatcher that died before
   marking, and is claimed again.
   A claimed notice whose reason is gone by now (engine.withdraw.withdraw_stale: the
   follow-up was recorded, the commitment ended, the agreement was terminated …) is
   marked ``withdrawn`` with the reason in the same step and never sent: a delivery
   that lags behind sends nothing stale.
   The claim, the withdrawals, loading the rows and planning their mails (with the
   calendar events' SEQUENCE) are one transaction (``take_batch``).
2. **Send** the batch through the mailer (outside any transaction).
3. **Mark** (one transaction, only rows this dispatcher still holds): sent; or back to
   pending with exponential backoff and jitter after a connection error or a 4xx
   reply; or failed after a 5xx reply or the last attempt, with the server's answer,
   and the process owner is told.

Steps 1 and 3 run in a database thread, one batch ahead of step 2 (``deliver``).

A crash between 2 and 3 resends the batch after the lease, with the same Message-ID
(notifications.message.message_id): at least once, never lost.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, and_, bindparam, func, select, update
from sqlalchemy.exc import InterfaceError, OperationalError

from engine.clock import Clock
from engine.db import as_utc
from engine.models import AgreementRow, OutboxRow, UnitRow
from engine.outbox import queue
from notifications import compose
from notifications.claiming import Batch, DatabaseThread, release, take_batch
from notifications.context import LinkMaker
from notifications.mailers import Mailer, SendResult
from notifications.mailers.factory import make_mailer
from notifications.settings import Settings
from rules.errors import SamverkanError
from rules.model import OutboxState, QueueNotice

OUT = cast(Table, OutboxRow.__table__)
PENDING, HELD = OutboxState.PENDING, OutboxState.HELD
log = logging.getLogger("samverkan.deliver")


@dataclass(kw_only=True)
class DeliveryReport:
    claimed: int = 0
    withdrawn: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    messages: int = 0
    errors: list[str] = field(default_factory=list)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def backoff(attempts: int, settings: Settings, rng: random.Random) -> timedelta:
    """Exponential in the number of attempts, capped, with ±50 % jitter."""
    base = min(settings.backoff_seconds * 2 ** (attempts - 1), settings.backoff_max_seconds)
    return timedelta(seconds=base * rng.uniform(0.5, 1.5))


def _mark(
    engine: Engine,
    worker: str,
    outcomes: list[tuple[compose.Prepared, SendResult]],
    settings: Settings,
    now: datetime,
    rng: random.Random,
    report: DeliveryReport,
    attempts: dict[int, int],
) -> None:
    """``attempts``: each row's as claimed. Only rows this worker still holds are written, and
    while it holds them no one else counts an attempt, so they need not be read again."""
    mine = and_(OUT.c.id == bindparam("b_id"), OUT.c.claimed_by == worker, OUT.c.state == OutboxState.SENDING)
    sent: list[dict[str, Any]] = []
    retry: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    refused: dict[int, set[str]] = {}
    with engine.begin() as conn:
        for prepared, result in outcomes:
            mid = prepared.outgoing.message_id if prepared.outgoing else None
            # One wait for the whole mail: its notices come due again together and go as one mail.
            most = max((attempts.get(i, 0) + 1 for i in prepared.ids), default=1)
            when = now + backoff(most, settings, rng)
            for i in prepared.ids:
                tries = attempts.get(i, 0) + 1
                if result.status == "sent":
                    note = result.error or None
                    sent.append({"b_id": i, "b_mid": mid, "b_tries": tries, "b_err": note})
                elif i in prepared.riders and result.status == "retry":
                    # Never sent alone: it waits for the next mail to its address again.
                    retry.append({"b_id": i, "b_tries": tries, "b_err": result.error, "b_at": when, "b_state": HELD})
                elif result.status == "retry" and tries < settings.max_attempts:
                    retry.append({"b_id": i, "b_tries": tries, "b_err": result.error, "b_at": when, "b_state": PENDING})
                else:
                    failed.append({"b_id": i, "b_tries": tries, "b_err": result.error or "okänt fel"})
                    refused[i] = set(result.refused)
        if sent:
            conn.execute(
                update(OUT)
                .where(mine)
                .values(
                    state=OutboxState.SENT,
                    sent_at=now,
                    message_id=bindparam("b_mid"),
                    attempts=bindparam("b_tries"),
                    last_error=bindparam("b_err"),
                ),
                sent,
            )
        if retry:
            conn.execute(
                update(OUT)
                .where(mine)
                .values(
                    state=bindparam("b_state"),  # pending again, or held again for the next mail
                    attempts=bindparam("b_tries"),
                    last_error=bindparam("b_err"),
                    send_at=bindparam("b_at"),
                    claimed_by=None,
                    claimed_at=None,
                ),
                retry,
            )
        if failed:
            conn.execute(
                update(OUT)
                .where(mine)
                .values(state=OutboxState.FAILED, attempts=bindparam("b_tries"), last_error=bindparam("b_err")),
                failed,
            )
            _tell_process_owner(conn, [f["b_id"] for f in failed], refused, now)
    report.sent += len(sent)
    report.retried += sum(r["b_state"] == PENDING for r in retry)
    report.failed += len(failed)
    report.errors += [f["b_err"] for f in failed]


# The database went away (a restart, a failover, a dropped connection) after the mail went out.
_GONE = (OperationalError, InterfaceError)


async def _mark_when_back(
    mark: Callable[[], Awaitable[None]], notices: int, lease_seconds: float, stop: Callable[[], bool] | None
) -> None:
    """``_mark``, tried again while the database is away, for at most half the lease.

    The batch has been sent; unmarked, it would be claimed again after the lease and sent
    a second time (tests/drills/test_pg_restart.py: one batch per instance at every
    restart). Within half the lease the rows are still this dispatcher's, and the mark
    only touches rows it still holds. Past that, or when asked to stop, the error goes
    up as before and the lease decides.
    """
    began = time.monotonic()
    delay = 0.25
    while True:
        try:
            await mark()
            return
        except _GONE as exc:
            if (stop is not None and stop()) or time.monotonic() - began + delay > lease_seconds / 2:
                raise
            log.warning(
                "kunde inte markera %d skickade meddelanden, databasen svarar inte (%s); försöker igen om %.1f s",
                notices,
                _said(exc),
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _said(exc: OperationalError | InterfaceError) -> str:
    said = str(exc.orig).strip().splitlines()
    return said[0] if said else type(exc.orig).__name__


def _tell_process_owner(conn: Any, failed_ids: list[int], refused: dict[int, set[str]], now: datetime) -> None:
    rows = conn.execute(
        select(OUT.c.id, OUT.c.key, OUT.c.kind, OUT.c.agreement_id, OUT.c.recipients, OUT.c.last_error, UnitRow.email)
        .join(AgreementRow, AgreementRow.id == OUT.c.agreement_id)
        .join(UnitRow, and_(UnitRow.agreement_id == AgreementRow.id, UnitRow.id == AgreementRow.process_owner))
        .where(OUT.c.id.in_(failed_ids))
    ).all()
    # One notice per process owner and agreement, listing every failure of this batch: a
    # grouped mail that fails holds many notices, and 28 alarms about one refusal are noise.
    told: dict[tuple[str, str], list[Any]] = {}
    for r in rows:
        # Never about itself, and never to an address the server just refused.
        if r.kind not in ("delivery_failed", "calendar_cancel") and r.email not in refused.get(r.id, set()):
            told.setdefault((r.agreement_id, r.email), []).append(r)
    notices = [
        QueueNotice(
            key=f"delivery_failed:{','.join(str(r.id) for r in failed)}"[:400],
            kind="delivery_failed",
            recipients=(email,),
            send_at=now,
            agreement=agreement,
            data={
                "failed": [
                    {"key": r.key, "kind": r.kind, "recipients": r.recipients, "error": r.last_error} for r in failed
                ]
            },
        )
        for (agreement, email), failed in told.items()
    ]
    queue(conn, notices, now)


def deliver(
    engine: Engine,
    now: datetime,
    settings: Settings,
    *,
    mailer: Mailer | None = None,
    worker: str | None = None,
    limit: int | None = None,
    link: LinkMaker | None = None,
    inbox: compose.InboxLink | None = None,
    rng: random.Random | None = None,
    clock: Clock | None = None,
    stop: Callable[[], bool] | None = None,
) -> DeliveryReport:
    """Send every notice due at ``now`` once; returns what happened.

    With a ``clock`` each batch is claimed and marked at the clock's current time, not at
    ``now``: a run longer than the lease would otherwise stamp its later claims with an
    old time, and another live instance would take them over and send them too
    (tests/drills/test_instances.py). ``stop`` is asked before every batch, so SIGTERM
    ends a long run after the batch in hand.

    The database work runs in a thread of its own, one batch ahead: while batch k is
    built and sent on the event loop, batch k+1 is claimed and planned, and batch k−1
    marked. Run in turn, the SMTP server waited for every claim, plan and mark, which
    with grouped mail cost more per message than the whole send (bench/mail.py). What a
    crash leaves is two batches ``sending`` at most, the second unsent: both go again
    after the lease, with the same Message-IDs. A batch claimed ahead that is not sent
    (stop, an error, or a claim grown older than half the lease while it waited) is put
    back as it was, without counting an attempt.
    """
    mailer = mailer or make_mailer(settings)
    worker_id = worker or worker_name()
    rng = rng or random.Random()
    lease = timedelta(seconds=settings.lease_seconds)
    report = DeliveryReport()

    def time_now() -> datetime:
        return max(clock.now(), now) if clock is not None else now

    async def run() -> None:
        loop = asyncio.get_running_loop()
        db = DatabaseThread(loop)

        def in_db(fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
            return db.run(functools.partial(fn, *args))

        def ahead() -> asyncio.Future[Batch | None] | None:
            """The next claim, started now, unless stopped or at the limit."""
            if (stop is not None and stop()) or (limit is not None and report.claimed >= limit):
                return None
            size = settings.batch_size if limit is None else min(settings.batch_size, limit - report.claimed)
            return in_db(take_batch, engine, time_now(), worker_id, size, lease, settings, link, inbox)

        async def put_back(pending: asyncio.Future[Batch | None] | None) -> None:
            """A batch claimed ahead and not sent goes back as it was; a claim that failed took nothing."""
            if pending is None:
                return
            try:
                batch = await pending
            except Exception:  # rolled back: nothing to put back, and the run's own error goes up
                return
            if batch is not None:
                report.claimed -= batch.claimed
                report.withdrawn -= batch.withdrawn
                await in_db(release, engine, worker_id, batch.ids, _riders(batch))

        def start_marking(batch: Batch, outcomes: list[tuple[compose.Prepared, SendResult]]) -> asyncio.Task[None]:
            mark = functools.partial(
                _mark, engine, worker_id, outcomes, settings, batch.at, rng, report, batch.attempts
            )
            notices = sum(len(p.ids) for p, _ in outcomes)
            return loop.create_task(
                _mark_when_back(functools.partial(in_db, mark), notices, settings.lease_seconds, stop)
            )

        marking: asyncio.Task[None] | None = None
        nxt = ahead()
        try:
            while nxt is not None:
                try:
                    batch = await nxt
                except _GONE as exc:
                    if marking is None:
                        raise
                    # The claim ahead met the database away while the last batch was sent; that
                    # batch is marked first (it tries again), then this claim is made again.
                    log.warning(
                        "kunde inte hämta nästa omgång, databasen svarar inte (%s); markerar den förra först",
                        _said(exc),
                    )
                    await marking
                    marking = None
                    nxt = ahead()
                    continue
                nxt = None
                if batch is None:
                    if marking is None:
                        break
                    # Claimed before the last batch was marked: the mark may queue a notice of its
                    # own (a delivery failure for the process owner), sent in this run as before.
                    await marking
                    marking = None
                    nxt = ahead()
                    continue
                report.claimed += batch.claimed
                report.withdrawn += batch.withdrawn
                if stop is not None and stop():
                    await put_back(_done(loop, batch))  # claimed ahead before the stop: not the batch in hand
                    break
                if batch.groups and time_now() - batch.at > lease / 2:
                    # Claimed ahead and kept waiting by a slow send: too close to the lease to send on it.
                    await put_back(_done(loop, batch))
                    nxt = ahead()
                    continue
                nxt = ahead()  # the next batch, claimed while this one is sent
                if not batch.groups:
                    continue
                prepared: list[compose.Prepared] = []
                try:
                    results = await mailer.send_all(compose.built(batch.groups, settings, batch.at, prepared))
                except SamverkanError:  # the mailer refuses its settings (SMTP login): nothing went out
                    await in_db(release, engine, worker_id, batch.ids, _riders(batch))
                    raise
                ready = [p for p in prepared if p.outgoing is not None]
                report.messages += sum(r.status == "sent" for r in results)
                outcomes = list(zip(ready, results, strict=True))
                outcomes += [
                    (p, SendResult(status="retry" if p.orphan else "failed", error=p.error))
                    for p in prepared
                    if p.outgoing is None
                ]
                if marking is not None:
                    await marking  # the batch before, marked while this one was sent
                marking = start_marking(batch, outcomes)
        finally:
            try:
                await put_back(nxt)
                if marking is not None:
                    await marking  # a batch that went out is marked before anything goes up
            finally:
                db.close()
                await mailer.close()

    # A reply from the SMTP server wakes the event loop, which then waits for the database
    # thread to give up the GIL: by default up to 5 ms, longer than a whole message takes
    # (bench/mail.py). A shorter interval for the run lets the loop in at once.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, _SWITCH_SECONDS))
    try:
        asyncio.run(run())
    finally:
        sys.setswitchinterval(interval)
    return report


_SWITCH_SECONDS = 0.0005


def _riders(batch: Batch) -> set[int]:
    return {r.id for g in batch.groups for r, _ in g.riders}


def _done(loop: asyncio.AbstractEventLoop, batch: Batch) -> asyncio.Future[Batch | None]:
    done: asyncio.Future[Batch | None] = loop.create_future()
    done.set_result(batch)
    return done


def next_send(engine: Engine) -> datetime | None:
    """When the next pending notice is due (for ``run``)."""
    with engine.connect() as conn:
        value = conn.execute(select(func.min(OUT.c.send_at)).where(OUT.c.state == OutboxState.PENDING)).scalar()
    return None if value is None else as_utc(value)
