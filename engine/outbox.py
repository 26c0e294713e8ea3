"""Writing notices to the outbox, once per idempotency key, on either dialect; withdrawing stale ones.

``INSERT … ON CONFLICT (key) DO NOTHING RETURNING key`` exists on SQLite (3.35+) and
PostgreSQL but is spelled through each dialect's own ``insert`` construct; this is
the one place that chooses.

``withdraw_stale`` gathers what rules.withdrawal needs to know about queued notices and
marks those whose reason is gone ``withdrawn``, with the reason, in the caller's
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine.models import AgreementRow, Commitment, EffortRow, FollowUp, OutboxRow, Revision
from engine.review import needs_attention
from rules import withdrawal
from rules.lifecycle import AVSLUTAD
from rules.model import QueueNotice

OUTBOX = cast(Table, OutboxRow.__table__)

PENDING = "pending"


def _row(n: QueueNotice, now: datetime) -> dict[str, Any]:
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
        "state": PENDING,
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
    rows = [_row(n, now) for n in notices]
    return set(insert_ignoring(conn, OUTBOX, rows, ["key"]).scalars().all())


WITHDRAWN = "withdrawn"


def withdraw_stale(
    conn: Connection,
    now: datetime,
    *,
    ids: Sequence[int] | None = None,
    worker: str | None = None,
    agreement: str | None = None,
    commitments: Sequence[str] | None = None,
) -> dict[int, str]:
    """Withdraw the queued notices whose reason is gone (rules.withdrawal); returns id → reason.

    Looks at pending notices of ``agreement`` or of ``commitments``, or — for the
    dispatcher — at the claimed rows ``ids`` that ``worker`` holds. Runs in the caller's
    transaction, so the withdrawal commits with whatever removed the reason.
    """
    kinds = sorted(withdrawal.WITHDRAWABLE)
    stmt = select(
        OUTBOX.c.id,
        OUTBOX.c.kind,
        OUTBOX.c.agreement_id,
        OUTBOX.c.commitment_id,
        OUTBOX.c.period,
        OUTBOX.c.send_at,
        OUTBOX.c.data,
    ).where(OUTBOX.c.kind.in_(kinds))
    if ids is not None:
        if not ids:
            return {}
        stmt = stmt.where(OUTBOX.c.id.in_(list(ids)), OUTBOX.c.state == "sending", OUTBOX.c.claimed_by == worker)
    else:
        stmt = stmt.where(OUTBOX.c.state == PENDING)
        if commitments is not None:
            if not commitments:
                return {}
            stmt = stmt.where(OUTBOX.c.commitment_id.in_(sorted(set(commitments))))
        if agreement is not None:
            stmt = stmt.where(OUTBOX.c.agreement_id == agreement)
    rows = conn.execute(stmt).all()
    if not rows:
        return {}
    weekly = {r.agreement_id for r in rows if r.kind == "weekly_summary"}
    agreements = _agreement_facts(conn, sorted({r.agreement_id for r in rows}), now, weekly)
    facts = _commitment_facts(conn, sorted({r.commitment_id for r in rows if r.commitment_id}))
    reasons: dict[int, str] = {}
    for r in rows:
        why = withdrawal.reason(
            r.kind,
            r.send_at,
            r.period,
            r.data or {},
            now=now,
            agreement=agreements[r.agreement_id],
            commitment=facts.get(r.commitment_id) if r.commitment_id else None,
        )
        if why is not None:
            reasons[r.id] = why
    if reasons:
        conn.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == bindparam("b_id"), or_(OUTBOX.c.state == PENDING, OUTBOX.c.state == "sending"))
            .values(state=WITHDRAWN, last_error=bindparam("b_why"), claimed_by=None, claimed_at=None),
            [{"b_id": i, "b_why": why} for i, why in reasons.items()],
        )
    return reasons


def _agreement_facts(
    conn: Connection, ids: list[str], now: datetime, weekly: set[str]
) -> dict[str, withdrawal.AgreementFacts]:
    """What rules.withdrawal needs of each agreement; whether it needs attention only for ``weekly`` ones."""
    a = cast(Table, AgreementRow.__table__)
    c = cast(Table, Commitment.__table__)
    r = cast(Table, Revision.__table__)
    completed: dict[str, set[int]] = {i: set() for i in ids}
    for aid, number in conn.execute(
        select(r.c.agreement_id, r.c.number).where(r.c.agreement_id.in_(ids), r.c.completed_at.is_not(None))
    ):
        completed[aid].add(number)
    live = set(
        conn.execute(
            select(c.c.agreement_id).where(c.c.agreement_id.in_(ids), c.c.state != AVSLUTAD).distinct()
        ).scalars()
    )
    rows = conn.execute(
        select(a.c.id, a.c.timezone, a.c.terminates, a.c.valid_to, a.c.revision_number).where(a.c.id.in_(ids))
    ).all()
    zones = {row.id: ZoneInfo(row.timezone) for row in rows}
    asked = sorted(weekly)
    attention = needs_attention(conn, asked, {aid: now.astimezone(zones[aid]).date() for aid in asked})
    return {
        row.id: withdrawal.AgreementFacts(
            zone=zones[row.id],
            terminates=row.terminates,
            valid_to=row.valid_to,
            revision_number=row.revision_number,
            completed_revisions=frozenset(completed[row.id]),
            live=row.id in live,
            needs_attention=row.id in attention or row.id not in weekly,
        )
        for row in rows
    }


def _commitment_facts(conn: Connection, ids: list[str]) -> dict[str, withdrawal.CommitmentFacts]:
    if not ids:
        return {}
    c = cast(Table, Commitment.__table__)
    e = cast(Table, EffortRow.__table__)
    f = cast(Table, FollowUp.__table__)
    latest: dict[tuple[str, int], tuple[int, dict[str, Any]]] = {}
    for cid, period, version, values in conn.execute(
        select(f.c.commitment_id, f.c.period, f.c.version, f.c["values"]).where(f.c.commitment_id.in_(ids))
    ):
        if (cid, period) not in latest or latest[(cid, period)][0] < version:
            latest[(cid, period)] = (version, values or {})
    out: dict[str, withdrawal.CommitmentFacts] = {}
    for cid, state, period, measures in conn.execute(
        select(c.c.id, c.c.state, c.c.period, e.c.measures)
        .join(e, and_(e.c.agreement_id == c.c.agreement_id, e.c.id == c.c.effort_id))
        .where(c.c.id.in_(ids))
    ):
        targets = {m["id"]: m["target"] for m in measures or [] if m.get("target") is not None}
        below: dict[tuple[int, str], bool] = {}
        reported = set()
        for (fcid, fperiod), (_, values) in latest.items():
            if fcid != cid:
                continue
            reported.add(fperiod)
            for mid, target in targets.items():
                value = values.get(mid)
                if isinstance(value, int | float):
                    below[(fperiod, mid)] = value < target
        out[cid] = withdrawal.CommitmentFacts(
            state=state, period=period, reported=frozenset(reported), below_target=below
        )
    return out
