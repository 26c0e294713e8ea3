"""Taking a batch from the outbox: claim, withdraw what is stale, load and plan, in one transaction.

The claim's rules are notifications.dispatcher's (its docstring); here is how it is done,
and the thread the dispatcher does its database work in.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from engine.models import OutboxRow
from engine.withdraw import withdraw_stale
from notifications import compose
from notifications.context import LinkMaker
from notifications.settings import Settings
from rules.model import OutboxState

OUT = cast(Table, OutboxRow.__table__)
PENDING, HELD = OutboxState.PENDING, OutboxState.HELD
# At most this many rows join a batch to complete its addresses' mails. An address with more
# due at once (a contact shared by thousands of agreements, as in bench/instances.py at
# 1,000,000 commitments) gets them in several mails, each with its own Message-ID, rather
# than one mail nobody reads whose ids no statement can bind (PostgreSQL takes at most
# 65,535 parameters, SQLite 32,766: the claim sent them as a list and failed there).
GROUP_EXTRA_MAX = 2_000


def _take(conn: Any, due: Any, now: datetime, worker: str, limit: int) -> list[int]:
    pick = select(OUT.c.id).where(due).order_by(OUT.c.send_at, OUT.c.id).limit(limit)
    return _claim_picked(conn, pick, due, now, worker)


def _claim_picked(conn: Any, pick: Any, due: Any, now: datetime, worker: str) -> list[int]:
    """Mark the rows ``pick`` selects (if still ``due``) as this worker's, in one statement; their ids."""
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


def claim(conn: Any, now: datetime, worker: str, limit: int, lease: timedelta, *, grouped: bool = True) -> list[int]:
    """Up to ``limit`` rows for this worker: first any whose lease has run out, then the due ones.

    Two simple conditions, each read in the order of ``ix_outbox_state_send_at`` (state,
    send_at, id) and stopped at the limit. As one OR, PostgreSQL read every due row and
    sorted them all for each batch (migration 0007). In the caller's transaction.
    """
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
    # The batch's own rows are already 'sending' with claimed_at = now: ``due`` cannot pick them.
    pick = (
        select(OUT.c.id).where(OUT.c.group_key.in_(keys), due).order_by(OUT.c.send_at, OUT.c.id).limit(GROUP_EXTRA_MAX)
    )
    return _claim_picked(conn, pick, due, now, worker)


def withdraw_claimed(conn: Any, ids: list[int], worker: str, now: datetime) -> set[int]:
    """Withdraw the claimed notices whose reason is gone, in the claim's transaction; the ids withdrawn."""
    return set(withdraw_stale(conn, now, ids=ids, worker=worker))


@dataclass
class Batch:
    """One claimed batch, planned and ready to be built and sent."""

    claimed: int  # rows claimed, the withdrawn among them
    withdrawn: int
    ids: list[int]  # the rows that go out (or wait again): claimed less withdrawn
    groups: list[compose.Group]
    attempts: dict[int, int]  # as claimed: the mark counts this attempt from it
    at: datetime  # the time it was claimed at


def take_batch(
    engine: Engine,
    at: datetime,
    worker: str,
    size: int,
    lease: timedelta,
    settings: Settings,
    link: LinkMaker | None,
    inbox: compose.InboxLink | None,
) -> Batch | None:
    """Claim, withdraw the stale, load and plan a batch: one transaction, or None when nothing is due.

    One commit for what was three (claim, withdraw, the calendar's SEQUENCE): on SQLite each
    commit waits for the disk. A failure anywhere rolls all of it back, so the rows stay
    pending as if this batch had never been taken.
    """
    # Not expired on commit: the mails are built from these rows after the session ends.
    with Session(engine, expire_on_commit=False) as session:
        conn = session.connection()
        ids = claim(conn, at, worker, size, lease, grouped=settings.digest)
        if not ids:
            return None
        stale = withdraw_claimed(conn, ids, worker, at)
        live = [i for i in ids if i not in stale]
        rows = list(session.scalars(select(OutboxRow).where(OutboxRow.id.in_(live)).order_by(OutboxRow.id)))
        groups = compose.plan(session, rows, settings, link, at, inbox) if rows else []
        session.commit()  # the claim, the withdrawals and the calendar events' SEQUENCE (notifications.attachments)
    return Batch(
        claimed=len(ids),
        withdrawn=len(stale),
        ids=live,
        groups=groups,
        attempts={r.id: r.attempts for r in rows},
        at=at,
    )


def release(engine: Engine, worker: str, ids: list[int], riders: set[int]) -> None:
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


class DatabaseThread:
    """One thread that runs a delivery run's database work, in the order given.

    Not ``concurrent.futures``: at interpreter exit (``samverkan run`` after SIGTERM, its
    delivery still running in the scheduler's thread) Python stops that module's workers
    before it waits for the other threads, and the batch in hand could not be marked.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.jobs: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any]] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._work, name="samverkan-db")
        self.thread.start()

    def run(self, job: Callable[[], Any]) -> asyncio.Future[Any]:
        done: asyncio.Future[Any] = self.loop.create_future()
        self.jobs.put((job, done))
        return done

    def close(self) -> None:
        """After the last job's result was awaited: the thread ends."""
        self.jobs.put(None)
        self.thread.join()

    def _work(self) -> None:
        while (taken := self.jobs.get()) is not None:
            job, done = taken
            try:
                result = job()
            except BaseException as exc:  # whatever it is, the awaiting coroutine raises it
                self.loop.call_soon_threadsafe(_settle, done, None, exc)
            else:
                self.loop.call_soon_threadsafe(_settle, done, result, None)


def _settle(done: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if done.cancelled():
        return
    if exc is not None:
        done.set_exception(exc)
    else:
        done.set_result(result)
