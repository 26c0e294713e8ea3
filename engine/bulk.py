"""Bulk writes for the tick's hot path, at the SQLite driver where SQLAlchemy costs most.

At 87,000 rows SQLAlchemy's per-value type processing (UTCDateTime, JSON) and
RETURNING took 2.6x the driver's own executemany time (bench/tick.py). These
functions write exactly the text SQLAlchemy would (tests/engine/test_tick.py
compares the rows of both paths); on PostgreSQL they use the ordinary statements.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, update

from engine.outbox import queue, row
from rules.model import QueueNotice

# The columns of engine.outbox.row, in the order the tuples below give them.
_SQLITE_INSERT = (
    "INSERT INTO outbox (key, kind, agreement_id, commitment_id, period, recipients, send_at, created_at, data,"
    " state, group_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING"
)
_SQLITE_NEXT_CHECK = "UPDATE commitments SET next_check = ? WHERE id = ?"


def sqlite_datetime(value: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DateTime writes for UTCDateTime's naive UTC value."""
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _executemany(conn: Connection, sql: str, rows: list[tuple[Any, ...]]) -> int:
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, rows)
        return int(cursor.rowcount)
    finally:
        cursor.close()


def queue_count(conn: Connection, notices: Sequence[QueueNotice], now: datetime) -> int:
    """Like ``engine.outbox.queue`` but returns only how many keys were new."""
    if not notices:
        return 0
    if conn.dialect.name != "sqlite":
        return len(queue(conn, notices, now))
    created = sqlite_datetime(now)
    rows = []
    for n in notices:
        v = row(n, now)  # what a queued notice stores is engine.outbox's to say; here only its SQLite form
        rows.append(
            (
                v["key"],
                v["kind"],
                v["agreement_id"],
                v["commitment_id"],
                v["period"],
                json.dumps(v["recipients"]),
                sqlite_datetime(v["send_at"]),
                created,
                json.dumps(v["data"]),
                v["state"],
                v["group_key"],
            )
        )
    return _executemany(conn, _SQLITE_INSERT, rows)


def set_next_check(conn: Connection, commitments: Table, rows: list[tuple[str, datetime | None]]) -> None:
    """Store each commitment's new next_check: (id, instant) pairs."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        _executemany(conn, _SQLITE_NEXT_CHECK, [(sqlite_datetime(at), cid) for cid, at in rows])
        return
    stmt = update(commitments).where(commitments.c.id == bindparam("b_id")).values(next_check=bindparam("b_next"))
    conn.execute(stmt, [{"b_id": cid, "b_next": at} for cid, at in rows])
