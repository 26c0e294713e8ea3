"""Writing notices to the outbox, once per idempotency key, on either dialect.

``INSERT … ON CONFLICT (key) DO NOTHING RETURNING key`` exists on SQLite (3.35+) and
PostgreSQL but is spelled through each dialect's own ``insert`` construct; this is
the one place that chooses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.models import OutboxRow
from rules.model import OutboxState, QueueNotice, group_key

OUTBOX = cast(Table, OutboxRow.__table__)

PENDING = OutboxState.PENDING


def row(n: QueueNotice, now: datetime) -> dict[str, Any]:
    """The outbox row of a notice: the one place that says what a queued notice stores (engine.bulk too)."""
    return {
        "key": n.key,
        "kind": n.kind,
        "agreement_id": n.agreement,
        "commitment_id": n.commitment,
        "period": n.period,
        "recipients": list(n.recipients),
        "send_at": n.send_at,
        "created_at": now,
        "data": n.data,
        "state": OutboxState.HELD if n.kind == "calendar_cancel" else PENDING,
        "group_key": group_key(n.kind, n.recipients),
    }


def insert_ignoring(conn: Connection, table: Table, rows: list[dict[str, Any]], unique: list[str]) -> Any:
    """``INSERT … ON CONFLICT (unique) DO NOTHING``; the statement's result (RETURNING the first unique column)."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:  # pragma: no cover - only the two supported dialects reach here
        raise NotImplementedError(f"insert on {dialect}")
    stmt = stmt.on_conflict_do_nothing(index_elements=unique).returning(table.c[unique[0]])
    return conn.execute(stmt, rows)


def queue(conn: Connection, notices: Sequence[QueueNotice], now: datetime) -> set[str]:
    """Insert notices whose key is new; return the keys that were inserted."""
    if not notices:
        return set()
    rows = [row(n, now) for n in notices]
    return set(insert_ignoring(conn, OUTBOX, rows, ["key"]).scalars().all())


def queue_in(session: Session, notices: Sequence[QueueNotice], now: datetime) -> set[str]:
    """``queue`` within a command's session, remembering what it inserted for the command's result.

    engine.api reads ``queued(session)`` at the end of the command, so a command returns
    the notices it queued and no edge rebuilds an outbox key to find them.
    """
    inserted = queue(session.connection(), notices, now)
    session.info.setdefault(_QUEUED, []).extend(n for n in notices if n.key in inserted)
    return inserted


def queued(session: Session) -> list[QueueNotice]:
    """The notices ``queue_in`` inserted in this session so far (and forgets them)."""
    return list(session.info.pop(_QUEUED, []))


_QUEUED = "samverkan.queued"
