"""Claiming a batch: what joins a batch to complete its addresses' mails, and where that stops."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from engine import db
from engine.agreement import Agreement
from engine.outbox import OUTBOX, queue
from engine.plan import load_plan
from notifications.claiming import GROUP_EXTRA_MAX, claim
from rules.model import OutboxState, QueueNotice

ZONE = ZoneInfo("Europe/Stockholm")
NOW = datetime(2027, 3, 1, 8, 0, tzinfo=ZONE)
LEASE = timedelta(minutes=10)


def _many_for_one_address(engine: Engine, boras: Agreement, n: int) -> None:
    """``n`` reminders due at NOW for one address, as a contact shared by thousands of agreements gets."""
    with db.transaction(engine) as s:
        load_plan(s, boras, now=NOW - timedelta(days=120))
    notices = [
        QueueNotice(
            key=f"reminder:shared:{i}:2026:-30",
            kind="reminder",
            recipients=("kommunpolis@polisen.example",),
            send_at=NOW - timedelta(seconds=n - i),
            agreement=boras.id,
            period=2026,
        )
        for i in range(n)
    ]
    with engine.begin() as conn:
        assert len(queue(conn, notices, NOW)) == n


def test_a_batch_completes_an_address_mail_only_up_to_a_bound_and_the_rest_goes_in_the_next_batches(
    engine: Engine, boras: Agreement
) -> None:
    # More than a batch and its bound for one address: before the bound, the whole group was
    # claimed at once as a list of ids, which PostgreSQL (65,535) and SQLite (32,766) cannot
    # bind at 1,000,000 commitments with shared addresses.
    total = 200 + GROUP_EXTRA_MAX + 300
    _many_for_one_address(engine, boras, total)
    taken: list[list[int]] = []
    for _ in range(3):
        with engine.begin() as conn:
            taken.append(claim(conn, NOW, "w1", 200, LEASE))
    assert [len(t) for t in taken] == [200 + GROUP_EXTRA_MAX, 300, 0]
    with engine.connect() as conn:
        in_order = list(conn.execute(select(OUTBOX.c.id).order_by(OUTBOX.c.send_at, OUTBOX.c.id)).scalars())
        sending = conn.execute(
            select(func.count()).select_from(OUTBOX).where(OUTBOX.c.state == OutboxState.SENDING)
        ).scalar_one()
    # The earliest first, each row claimed once, all of them in the end.
    assert taken[0] == sorted(in_order[: 200 + GROUP_EXTRA_MAX])
    assert sorted(taken[0] + taken[1]) == sorted(in_order)
    assert sending == total
