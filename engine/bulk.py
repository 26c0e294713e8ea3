"""Bulk writes for the tick's hot path, in the form each dialect does fastest.

SQLite: at the driver. At 87,000 rows SQLAlchemy's per-value type processing
(UTCDateTime, JSON) and RETURNING took 2.6x the driver's own executemany time
(bench/tick.py); ``executemany`` on the sqlite3 cursor writes exactly the text
SQLAlchemy would.

PostgreSQL: one statement per batch, its rows as arrays (``unnest``). Through
SQLAlchemy an executemany INSERT becomes ``insertmanyvalues`` pages of 1,000 rows: a
statement with 11,000 placeholders that psycopg parses afresh on every page (too long
for its query cache), and an executemany UPDATE is one statement per row on the
server. An ``INSERT … SELECT … FROM unnest(…)`` or ``UPDATE … FROM unnest(…)`` is a
short statement with one parameter per column, parsed once and prepared by psycopg
after a few batches (bench/tick.py --backend postgresql measures it). The rows are
inserted in the order given (``WITH ORDINALITY``), so outbox and history ids follow the
same order as on SQLite.

Either way the rows are those SQLAlchemy's statements would write:
tests/engine/test_tick.py compares the rows of every path on both dialects.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, update

from engine.outbox import queue, row
from rules.model import QueueNotice

# The columns of engine.outbox.row, in the order the tuples below give them.
_SQLITE_INSERT = (
    "INSERT INTO outbox (key, kind, agreement_id, commitment_id, period, recipients, send_at, created_at, data,"
    " state, group_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING"
)

# Parameters as binary arrays (%(name)b): psycopg's text form of an array escapes every
# element through a regular expression, 18x slower than the binary form for a batch of 2,000
# keys, addresses and JSON texts (measured on this machine). exec_driver_sql hands them to
# psycopg as they are, and SQLAlchemy's events still see each statement.
# attempts: the model's default (engine.models.OutboxRow), which SQLAlchemy's insert would add.
_PG_QUEUE = (
    "INSERT INTO outbox (key, kind, agreement_id, commitment_id, period, recipients, send_at, created_at, data,"
    " state, attempts, group_key)"
    " SELECT v.key, v.kind, v.agreement_id, v.commitment_id, v.period, v.recipients::json, v.send_at,"
    " %(created_at)b, v.data::json, v.state, 0, v.group_key"
    " FROM unnest(CAST(%(keys)b AS text[]), CAST(%(kinds)b AS text[]), CAST(%(agreements)b AS text[]),"
    " CAST(%(commitments)b AS text[]), CAST(%(periods)b AS integer[]), CAST(%(recipients)b AS text[]),"
    " CAST(%(send_at)b AS timestamptz[]), CAST(%(data)b AS text[]), CAST(%(states)b AS text[]),"
    " CAST(%(groups)b AS text[]))"
    " WITH ORDINALITY AS v(key, kind, agreement_id, commitment_id, period, recipients, send_at, data, state,"
    " group_key, n)"
    " ORDER BY v.n"
    " ON CONFLICT (key) DO NOTHING"
)
_PG_QUEUE_RETURNING = _PG_QUEUE + " RETURNING key"

_PG_HISTORY = (
    'INSERT INTO transition_log (commitment_id, "at", "trigger", from_state, to_state, "by", why)'
    ' SELECT v.commitment_id, v."at", v."trigger", v.from_state, v.to_state, v."by", v.why'
    " FROM unnest(CAST(%(commitments)b AS text[]), CAST(%(ats)b AS timestamptz[]), CAST(%(triggers)b AS text[]),"
    " CAST(%(from_states)b AS text[]), CAST(%(to_states)b AS text[]), CAST(%(bys)b AS text[]),"
    " CAST(%(whys)b AS text[]))"
    ' WITH ORDINALITY AS v(commitment_id, "at", "trigger", from_state, to_state, "by", why, n)'
    " ORDER BY v.n"
)

_PG_MOVE = (
    "UPDATE commitments AS c SET state = v.state, state_since = v.since, period = v.period, next_due = v.due,"
    " next_check = v.next"
    " FROM unnest(CAST(%(ids)b AS text[]), CAST(%(states)b AS text[]), CAST(%(sinces)b AS timestamptz[]),"
    " CAST(%(periods)b AS integer[]), CAST(%(dues)b AS date[]), CAST(%(nexts)b AS timestamptz[]))"
    " AS v(id, state, since, period, due, next)"
    " WHERE c.id = v.id"
)

_PG_NEXT_CHECK = (
    "UPDATE {table} AS t SET next_check = v.next"
    " FROM unnest(CAST(%(ids)b AS text[]), CAST(%(nexts)b AS timestamptz[])) AS v(id, next) WHERE t.id = v.id"
)


def sqlite_datetime(value: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DateTime writes for UTCDateTime's naive UTC value."""
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _utc(value: datetime | None) -> datetime | None:
    """What UTCDateTime binds on PostgreSQL: the instant in UTC (a naive value is refused there too)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass an aware datetime (the clock gives one)")
    return value.astimezone(UTC)


def _executemany(conn: Connection, sql: str, rows: list[tuple[Any, ...]]) -> int:
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, rows)
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _pg_queue_params(notices: Sequence[QueueNotice], now: datetime) -> dict[str, Any]:
    rows = [row(n, now) for n in notices]  # what a queued notice stores is engine.outbox's to say
    return {
        "keys": [v["key"] for v in rows],
        "kinds": [v["kind"] for v in rows],
        "agreements": [v["agreement_id"] for v in rows],
        "commitments": [v["commitment_id"] for v in rows],
        "periods": [v["period"] for v in rows],
        # The JSON type's serializer is json.dumps with its defaults: the same text.
        "recipients": [json.dumps(v["recipients"]) for v in rows],
        "send_at": [_utc(v["send_at"]) for v in rows],
        "created_at": _utc(now),
        "data": [json.dumps(v["data"]) for v in rows],
        "states": [str(v["state"]) for v in rows],
        "groups": [v["group_key"] for v in rows],
    }


def queue_count(conn: Connection, notices: Sequence[QueueNotice], now: datetime) -> int:
    """Like ``engine.outbox.queue`` but returns only how many keys were new."""
    if not notices:
        return 0
    if conn.dialect.name == "postgresql":
        return int(conn.exec_driver_sql(_PG_QUEUE, _pg_queue_params(notices, now)).rowcount)
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


def queue_keys(conn: Connection, notices: Sequence[QueueNotice], now: datetime) -> set[str]:
    """``engine.outbox.queue`` for the tick: the keys that were new."""
    if not notices:
        return set()
    if conn.dialect.name == "postgresql":
        return set(conn.exec_driver_sql(_PG_QUEUE_RETURNING, _pg_queue_params(notices, now)).scalars())
    return queue(conn, notices, now)


def record_history(conn: Connection, history: Table, rows: list[dict[str, Any]]) -> None:
    """Append transitions: dicts of the columns of engine.models.TransitionRecord but its id."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(history), rows)
        return
    conn.exec_driver_sql(
        _PG_HISTORY,
        {
            "commitments": [r["commitment_id"] for r in rows],
            "ats": [_utc(r["at"]) for r in rows],
            "triggers": [str(r["trigger"]) for r in rows],
            "from_states": [str(r["from_state"]) for r in rows],
            "to_states": [str(r["to_state"]) for r in rows],
            "bys": [str(r["by"]) for r in rows],
            "whys": [str(r["why"]) for r in rows],
        },
    )


def move(conn: Connection, commitments: Table, rows: list[dict[str, Any]]) -> None:
    """Store lifecycle moves: dicts of b_id, b_state, b_since, b_period, b_due, b_next."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        stmt = (
            update(commitments)
            .where(commitments.c.id == bindparam("b_id"))
            .values(
                state=bindparam("b_state"),
                state_since=bindparam("b_since"),
                period=bindparam("b_period"),
                next_due=bindparam("b_due"),
                next_check=bindparam("b_next"),
            )
        )
        conn.execute(stmt, rows)
        return
    conn.exec_driver_sql(
        _PG_MOVE,
        {
            "ids": [r["b_id"] for r in rows],
            "states": [str(r["b_state"]) for r in rows],
            "sinces": [_utc(r["b_since"]) for r in rows],
            "periods": [r["b_period"] for r in rows],
            "dues": [r["b_due"] for r in rows],
            "nexts": [_utc(r["b_next"]) for r in rows],
        },
    )


def set_next_check(conn: Connection, table: Table, rows: list[tuple[str, datetime | None]]) -> None:
    """Store each row's new next_check (commitments or agreements): (id, instant) pairs."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        sql = f"UPDATE {table.name} SET next_check = ? WHERE id = ?"
        _executemany(conn, sql, [(sqlite_datetime(at), cid) for cid, at in rows])
        return
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            _PG_NEXT_CHECK.format(table=table.name),
            {"ids": [cid for cid, _ in rows], "nexts": [_utc(at) for _, at in rows]},
        )
        return
    stmt = update(table).where(table.c.id == bindparam("b_id")).values(next_check=bindparam("b_next"))
    conn.execute(stmt, [{"b_id": cid, "b_next": at} for cid, at in rows])
