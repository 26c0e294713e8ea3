"""Withdrawing queued notices whose reason is gone: what rules.withdrawal needs, read in few queries.

``withdraw_stale`` runs in the caller's transaction: in the one that removed a reason
(a follow-up recorded, a commitment ended, a termination, a completed revision), and in
the dispatcher's claim, so a delivery that lags behind sends nothing stale. The claim
asks it for every batch, so the common case — every notice still due — costs two
queries: the claimed rows with their commitment's state and whether their period is
reported, and their agreements. The rest is read only when a batch holds the kinds
that need it (revision notices, weekly summaries, deviations).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, and_, bindparam, exists, or_, select, update

from engine.attention import needs_attention
from engine.models import AgreementRow, Commitment, EffortRow, FollowUp, OutboxRow, Revision
from engine.outbox import PENDING
from rules import deviation, withdrawal
from rules.lifecycle import AVSLUTAD
from rules.model import OutboxState

OUT = cast(Table, OutboxRow.__table__)
C = cast(Table, Commitment.__table__)
A = cast(Table, AgreementRow.__table__)
E = cast(Table, EffortRow.__table__)
F = cast(Table, FollowUp.__table__)
R = cast(Table, Revision.__table__)

WITHDRAWN = OutboxState.WITHDRAWN


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
    dispatcher — at the claimed rows ``ids`` that ``worker`` holds.
    """
    reported = exists().where(F.c.commitment_id == OUT.c.commitment_id, F.c.period == OUT.c.period)
    stmt = (
        select(
            OUT.c.id,
            OUT.c.kind,
            OUT.c.agreement_id,
            OUT.c.commitment_id,
            OUT.c.period,
            OUT.c.send_at,
            OUT.c.data,
            C.c.state.label("c_state"),
            C.c.period.label("c_period"),
            C.c.next_due.label("c_due"),
            reported.label("reported"),
        )
        .select_from(OUT.outerjoin(C, C.c.id == OUT.c.commitment_id))
        .where(OUT.c.kind.in_(sorted(withdrawal.WITHDRAWABLE)))
    )
    if ids is not None:
        if not ids:
            return {}
        stmt = stmt.where(OUT.c.id.in_(list(ids)), OUT.c.state == OutboxState.SENDING, OUT.c.claimed_by == worker)
    else:
        # Held notices too (a calendar CANCEL waiting for the next mail): they are queued, not sent.
        stmt = stmt.where(OUT.c.state.in_([PENDING, OutboxState.HELD]))
        if commitments is not None:
            if not commitments:
                return {}
            stmt = stmt.where(OUT.c.commitment_id.in_(sorted(set(commitments))))
        if agreement is not None:
            stmt = stmt.where(OUT.c.agreement_id == agreement)
    rows = conn.execute(stmt).all()
    if not rows:
        return {}
    kinds = {r.kind for r in rows}
    agreements = _agreement_facts(conn, rows, now, kinds)
    facts = _commitment_facts(conn, rows, "deviation" in kinds)
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
            update(OUT)
            .where(
                OUT.c.id == bindparam("b_id"),
                # Not IN (…): an expanding parameter cannot go into an executemany.
                or_(OUT.c.state == PENDING, OUT.c.state == OutboxState.SENDING, OUT.c.state == OutboxState.HELD),
            )
            .values(state=WITHDRAWN, last_error=bindparam("b_why"), claimed_by=None, claimed_at=None),
            [{"b_id": i, "b_why": why} for i, why in reasons.items()],
        )
    return reasons


def _agreement_facts(
    conn: Connection, rows: Sequence[Any], now: datetime, kinds: set[str]
) -> dict[str, withdrawal.AgreementFacts]:
    ids = sorted({r.agreement_id for r in rows})
    completed: dict[str, set[int]] = {i: set() for i in ids}
    if kinds & withdrawal.REVISION_KINDS:
        for aid, number in conn.execute(
            select(R.c.agreement_id, R.c.number).where(R.c.agreement_id.in_(ids), R.c.completed_at.is_not(None))
        ):
            completed[aid].add(number)
    heads = conn.execute(
        select(A.c.id, A.c.timezone, A.c.terminates, A.c.valid_to, A.c.revision_number).where(A.c.id.in_(ids))
    ).all()
    zones = {h.id: ZoneInfo(h.timezone) for h in heads}
    weekly = sorted({r.agreement_id for r in rows if r.kind == "weekly_summary"})
    live: set[str] = set()
    attention: set[str] = set()
    if weekly:
        live = set(
            conn.execute(
                select(C.c.agreement_id).where(C.c.agreement_id.in_(weekly), C.c.state != AVSLUTAD).distinct()
            ).scalars()
        )
        attention = needs_attention(conn, weekly, {aid: now.astimezone(zones[aid]).date() for aid in weekly})
    return {
        h.id: withdrawal.AgreementFacts(
            zone=zones[h.id],
            terminates=h.terminates,
            valid_to=h.valid_to,
            revision_number=h.revision_number,
            completed_revisions=frozenset(completed[h.id]),
            # Asked only where a weekly summary needs it; elsewhere nothing depends on them.
            live=h.id in live or h.id not in weekly,
            needs_attention=h.id in attention or h.id not in weekly,
        )
        for h in heads
    }


def _commitment_facts(conn: Connection, rows: Sequence[Any], deviations: bool) -> dict[str, withdrawal.CommitmentFacts]:
    reported: dict[str, set[int]] = {}
    state: dict[str, tuple[str, int, Any]] = {}
    for r in rows:
        if r.commitment_id is None or r.c_state is None:
            continue
        state[r.commitment_id] = (r.c_state, r.c_period, r.c_due)
        periods = reported.setdefault(r.commitment_id, set())
        if r.reported and r.period is not None:
            periods.add(r.period)
    below = _below_target(conn, rows) if deviations else {}
    return {
        cid: withdrawal.CommitmentFacts(
            state=s,
            period=p,
            due=due,
            reported=frozenset(reported[cid]),
            below_target={k[1:]: v for k, v in below.items() if k[0] == cid},
        )
        for cid, (s, p, due) in state.items()
    }


def _below_target(conn: Connection, rows: Sequence[Any]) -> dict[tuple[str, int, str], bool]:
    """For each deviation's (commitment, period, measure): is the latest recorded value below its target?"""
    asked = {(r.commitment_id, r.period) for r in rows if r.kind == "deviation" and r.commitment_id}
    cids = sorted({cid for cid, _ in asked})
    latest: dict[tuple[str, int], tuple[int, dict[str, Any]]] = {}
    for cid, period, version, values in conn.execute(
        select(F.c.commitment_id, F.c.period, F.c.version, F.c["values"]).where(F.c.commitment_id.in_(cids))
    ):
        if (cid, period) in asked and ((cid, period) not in latest or latest[(cid, period)][0] < version):
            latest[(cid, period)] = (version, values or {})
    targets: dict[str, dict[str, float]] = {}
    for cid, measures in conn.execute(
        select(C.c.id, E.c.measures)
        .join(E, and_(E.c.agreement_id == C.c.agreement_id, E.c.id == C.c.effort_id))
        .where(C.c.id.in_(cids))
    ):
        targets[cid] = {m["id"]: m["target"] for m in measures or [] if m.get("target") is not None}
    out: dict[tuple[str, int, str], bool] = {}
    for (cid, period), (_, values) in latest.items():
        for mid, target in targets.get(cid, {}).items():
            value = values.get(mid)
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[(cid, period, mid)] = deviation.falls_short(value, target)
    return out
