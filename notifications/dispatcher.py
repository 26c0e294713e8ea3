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
2. **Send** the batch through the mailer (outside any transaction).
3. **Mark** (one transaction, only rows this dispatcher still holds): sent; or back to
   pending with exponential backoff and jitter after a connection error or a 4xx
   reply; or failed after a 5xx reply or the last attempt, with the server's answer,
   and the process owner is told.

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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.db import as_utc
from engine.models import AgreementRow, OutboxRow, UnitRow
from engine.outbox import queue
from engine.withdraw import withdraw_stale
from notifications import compose
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


def _take(conn: Any, due: Any, now: datetime, worker: str, limit: int) -> list[int]:
    pick = select(OUT.c.id).where(due).order_by(OUT.c.send_at, OUT.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    # Materialised once: PostgreSQL may otherwise rescan an IN-subquery, and with SKIP
    # LOCKED each rescan returns other rows, so the LIMIT would not hold.
    picked = pick.cte("picked").prefix_with("MATERIALIZED", dialect="postgresql")
    stmt = (
        update(OUT)
        .where(OUT.c.id.in_(select(picked.c.id)), due)
        .values(state=OutboxState.SENDING, claimed_by=worker, claimed_at=now)
        .returning(OUT.c.id)
    )
    return list(conn.execute(stmt).scalars().all())


def claim(
    engine: Engine, now: datetime, worker: str, limit: int, lease: timedelta, *, grouped: bool = True
) -> list[int]:
    """Up to ``limit`` rows for this worker: first any whose lease has run out, then the due ones.

    Two simple conditions, each read in the order of ``ix_outbox_state_send_at`` (state,
    send_at, id) and stopped at the limit. As one OR, PostgreSQL read every due row and
    sorted them all for each batch (migration 0007).
    """
    with engine.begin() as conn:
        ids = _take(conn, and_(OUT.c.state == OutboxState.SENDING, OUT.c.claimed_at < now - lease), now, worker, limit)
        if len(ids) < limit:
            due = and_(OUT.c.state == OutboxState.PENDING, OUT.c.send_at <= now)
            ids += _take(conn, due, now, worker, limit - len(ids))
        ids += _complete_groups(conn, ids, now, worker, now - lease, due_too=grouped)
        return sorted(ids)


def _complete_groups(
    conn: Any, ids: list[int], now: datetime, worker: str, lapsed: datetime, *, due_too: bool
) -> list[int]:
    """Everything else due for the addresses in the batch, and what waits to ride with their mail.

    A batch stops at its limit wherever the order puts it; without this, one address's
    notices of one slot could straddle two batches and go out as two mails. The rows
    held for the next mail (a calendar CANCEL) are taken with them; with one mail per
    notice (``due_too`` false) only those. Rows of a dispatcher that died (claimed before
    ``lapsed``) come too: the mail it may have sent is sent again whole, with the same
    Message-ID.
    """
    if not ids:
        return []
    keys = sorted(
        k for k in conn.execute(select(OUT.c.group_key).where(OUT.c.id.in_(ids)).distinct()).scalars() if k is not None
    )
    if not keys:
        return []
    held = OUT.c.state == OutboxState.HELD
    due = held
    if due_too:
        pending = and_(OUT.c.state == OutboxState.PENDING, OUT.c.send_at <= now)
        died = and_(OUT.c.state == OutboxState.SENDING, OUT.c.claimed_at < lapsed)
        due = or_(pending, died, held)
    pick = select(OUT.c.id).where(OUT.c.group_key.in_(keys), due)
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    more = [i for i in conn.execute(pick).scalars() if i not in set(ids)]
    if not more:
        return []
    stmt = (
        update(OUT)
        .where(OUT.c.id.in_(more), due)
        .values(state=OutboxState.SENDING, claimed_by=worker, claimed_at=now)
        .returning(OUT.c.id)
    )
    return list(conn.execute(stmt).scalars().all())


def withdraw_claimed(engine: Engine, ids: list[int], worker: str, now: datetime) -> set[int]:
    """Withdraw the claimed notices whose reason is gone; the ids withdrawn."""
    with engine.begin() as conn:
        return set(withdraw_stale(conn, now, ids=ids, worker=worker))


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
) -> None:
    mine = and_(OUT.c.id == bindparam("b_id"), OUT.c.claimed_by == worker, OUT.c.state == OutboxState.SENDING)
    sent, retry, failed = [], [], []
    refused: dict[int, set[str]] = {}
    with engine.begin() as conn:
        attempts = dict(
            conn.execute(
                select(OUT.c.id, OUT.c.attempts).where(OUT.c.id.in_([i for p, _ in outcomes for i in p.ids]))
            ).all()
        )
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
    mark: Callable[[], None], notices: int, lease_seconds: float, stop: Callable[[], bool] | None
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
            mark()
            return
        except _GONE as exc:
            if (stop is not None and stop()) or time.monotonic() - began + delay > lease_seconds / 2:
                raise
            said = str(exc.orig).strip().splitlines()
            log.warning(
                "kunde inte markera %d skickade meddelanden, databasen svarar inte (%s); försöker igen om %.1f s",
                notices,
                said[0] if said else type(exc.orig).__name__,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _release(engine: Engine, worker: str, ids: list[int], riders: set[int]) -> None:
    """Put a claimed batch back as it was: pending (a held rider held again), its attempts untouched.

    For a send that could not begin for any mail (the server refused the login): it is
    no attempt of these notices, and they go as they would have once the settings are put right.
    """
    if not ids:
        return
    mine = and_(OUT.c.id == bindparam("b_id"), OUT.c.claimed_by == worker, OUT.c.state == OutboxState.SENDING)
    back = [{"b_id": i, "b_state": HELD if i in riders else PENDING} for i in ids]
    with engine.begin() as conn:
        conn.execute(update(OUT).where(mine).values(state=bindparam("b_state"), claimed_by=None, claimed_at=None), back)


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

    With a ``clock`` each batch is claimed, sent and marked at the clock's current time,
    not at ``now``: a run longer than the lease would otherwise stamp its later claims
    with an old time, and another live instance would take them over and send them too
    (tests/drills/test_instances.py). ``stop`` is asked before every batch, so SIGTERM
    ends a long run after the batch in hand.
    """
    mailer = mailer or make_mailer(settings)
    worker_id = worker or worker_name()
    rng = rng or random.Random()
    lease = timedelta(seconds=settings.lease_seconds)
    report = DeliveryReport()

    async def run() -> None:
        # One event loop for the whole run, so the mailer's connections serve every batch.
        try:
            while limit is None or report.claimed < limit:
                if stop is not None and stop():
                    break
                at = max(clock.now(), now) if clock is not None else now
                size = settings.batch_size if limit is None else min(settings.batch_size, limit - report.claimed)
                ids = claim(engine, at, worker_id, size, lease, grouped=settings.digest)
                if not ids:
                    break
                report.claimed += len(ids)
                stale = withdraw_claimed(engine, ids, worker_id, at)
                report.withdrawn += len(stale)
                ids = [i for i in ids if i not in stale]
                if not ids:
                    continue
                # Not expired on commit: the mails are built from these rows after the session ends.
                with Session(engine, expire_on_commit=False) as session:
                    rows = list(session.scalars(select(OutboxRow).where(OutboxRow.id.in_(ids)).order_by(OutboxRow.id)))
                    groups = compose.plan(session, rows, settings, link, at, inbox)
                    session.commit()  # the calendar events' SEQUENCE (notifications.attachments)
                prepared: list[compose.Prepared] = []
                try:
                    results = await mailer.send_all(compose.built(groups, settings, at, prepared))
                except SamverkanError:  # the mailer refuses its settings (SMTP login): nothing went out
                    _release(engine, worker_id, ids, {r.id for g in groups for r, _ in g.riders})
                    raise
                ready = [p for p in prepared if p.outgoing is not None]
                report.messages += sum(r.status == "sent" for r in results)
                outcomes = list(zip(ready, results, strict=True))
                outcomes += [
                    (p, SendResult(status="retry" if p.orphan else "failed", error=p.error))
                    for p in prepared
                    if p.outgoing is None
                ]
                await _mark_when_back(
                    functools.partial(_mark, engine, worker_id, outcomes, settings, at, rng, report),
                    sum(len(p.ids) for p, _ in outcomes),
                    settings.lease_seconds,
                    stop,
                )
        finally:
            await mailer.close()

    asyncio.run(run())
    return report


def next_send(engine: Engine) -> datetime | None:
    """When the next pending notice is due (for ``run``)."""
    with engine.connect() as conn:
        value = conn.execute(select(func.min(OUT.c.send_at)).where(OUT.c.state == OutboxState.PENDING)).scalar()
    return None if value is None else as_utc(value)
