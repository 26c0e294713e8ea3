"""First follow-ups of many commitments in one set-based step (what ``samverkan simulate`` records).

``record_follow_ups`` writes to the database exactly what ``engine.service.record_follow_up``
writes for each of its reports — the follow-up row, the move pågående → uppföljd with its
history row, the commitment's period, ``next_due`` (an extension kept) and ``next_check``,
the withdrawal of what lost its reason, the deviations and a held calendar cancellation —
but reads and writes each table once for all of them instead of once per commitment
through the ORM. The decisions are the same functions: ``service.refuse_first_report``
and ``service.check_values`` for what is refused, ``rules.lifecycle.move`` for the move,
``rules.deviation.evaluate`` for the deviations, ``engine.withdraw.withdraw_stale`` for
the withdrawal, ``engine.calendar_events.cancellation`` for the cancellation.

Only first versions: a correction (``replace``) goes through ``record_follow_up``.
tests/engine/test_simulate.py compares the two paths' databases on both backends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, and_, insert, select
from sqlalchemy.orm import Session

from engine import bulk, calendar_events, outbox, withdraw
from engine.deadlines import extended_dues, stored_due
from engine.models import AgreementRow, Commitment, EffortRow, FollowUp, OutboxRow, TransitionRecord, UnitRow
from engine.service import check_values, refuse_first_report, require_text
from rules import deviation, lifecycle
from rules import hours as hours_rule
from rules.calendar import SwedishCalendar
from rules.errors import NotFound
from rules.model import OutboxState, QueueNotice, Schedule

C = cast(Table, Commitment.__table__)
A = cast(Table, AgreementRow.__table__)
E = cast(Table, EffortRow.__table__)
U = cast(Table, UnitRow.__table__)
F = cast(Table, FollowUp.__table__)
H = cast(Table, TransitionRecord.__table__)
OUT = cast(Table, OutboxRow.__table__)

# Ids per IN (…) list: far below SQLite's limit on bound parameters.
CHUNK = 500


@dataclass(frozen=True, kw_only=True)
class FirstReport:
    """One commitment's first follow-up of ``period``, as ``record_follow_up`` takes it."""

    commitment: str  # the full id
    period: int
    values: Mapping[str, Any]
    comment: str
    by: str
    hours: float | None = None


@dataclass(kw_only=True)
class _Row:
    id: str
    agreement_id: str
    party: str
    state: str
    period: int
    measures: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class _Agreement:
    schedule: Schedule
    due_md: str
    owner_email: str


def record_follow_ups(
    session: Session, reports: Sequence[FirstReport], *, now: datetime, calendar: SwedishCalendar | None = None
) -> int:
    """Record every report in the caller's transaction, or raise on the first refused one; returns how many.

    Reports are taken in order, as if ``record_follow_up`` were called for each: a second
    report of the same commitment and period is refused as already recorded.
    """
    if not reports:
        return 0
    cal = calendar or SwedishCalendar()
    session.flush()  # what the caller changed through the ORM is in the rows read below
    conn = session.connection()
    ids = sorted({r.commitment for r in reports})
    rows = _commitments(conn, ids)
    for r in reports:
        if r.commitment not in rows:
            raise NotFound("åtagande", r.commitment, "se 'samverkan status' för giltiga id")
    agreements = _agreements(conn, sorted({c.agreement_id for c in rows.values()}))
    recorded = _recorded(conn, ids)
    follow_ups: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    moved: dict[str, lifecycle.Moved] = {}
    notices: list[QueueNotice] = []
    for r in reports:
        comment = require_text("comment", r.comment)
        by = require_text("by", r.by)
        hours = hours_rule.check(r.hours) if r.hours is not None else None
        c = rows[r.commitment]
        a = agreements[c.agreement_id]
        measures = deviation.for_party(c.measures, c.party)
        checked = check_values(measures, dict(r.values))
        refuse_first_report(
            c.id,
            c.state,
            c.period,
            r.period,
            recorded=recorded.get((c.id, r.period)),
            schedule=a.schedule,
            today=now.astimezone(a.schedule.zone).date(),
            calendar=cal,
        )
        recorded[(c.id, r.period)] = now
        follow_ups.append(
            {
                "commitment_id": c.id,
                "period": r.period,
                "version": 1,
                "values": checked,
                "comment": comment,
                "by": by,
                "recorded_at": now,
                "hours": hours,
            }
        )
        step = lifecycle.move(c.id, c.state, c.period, "follow_up", at=now, due_md=a.due_md, calendar=cal)
        history.append(
            {
                "commitment_id": c.id,
                "at": now,
                "trigger": step.trigger,
                "from_state": step.from_state,
                "to_state": step.state,
                "by": by,
                "why": f"uppföljning {r.period} registrerad",
            }
        )
        c.state, c.period = step.state, step.period
        moved[c.id] = step
        notices.extend(
            deviation.evaluate(
                commitment=c.id,
                agreement=c.agreement_id,
                period=r.period,
                party=c.party,
                values=checked,
                measures=measures,
                owner_email=a.owner_email,
                now=now,
                s=a.schedule,
                cal=cal,
            )
        )
    conn.execute(insert(F), follow_ups)
    conn.execute(insert(H), history)
    _store_moves(conn, moved, now)
    # The reminders and overdue notices of the reported periods lost their reason.
    withdraw.withdraw_stale(conn, now, commitments=sorted(moved))
    # Queued after the withdrawal, which never takes it (engine.calendar_events).
    notices.extend(_cancellations(session, [(r.commitment, r.period) for r in reports], now))
    outbox.queue_in(session, notices, now)
    return len(reports)


def _commitments(conn: Any, ids: list[str]) -> dict[str, _Row]:
    stmt = (
        select(C.c.id, C.c.agreement_id, C.c.party, C.c.state, C.c.period, E.c.measures)
        .join(E, and_(E.c.agreement_id == C.c.agreement_id, E.c.id == C.c.effort_id))
        # As record_follow_up locks the one it records: a concurrent report waits, then is refused.
        .with_for_update(of=C)
    )
    out: dict[str, _Row] = {}
    for i in range(0, len(ids), CHUNK):
        for row in conn.execute(stmt.where(C.c.id.in_(ids[i : i + CHUNK]))):
            out[row.id] = _Row(
                id=row.id,
                agreement_id=row.agreement_id,
                party=row.party,
                state=row.state,
                period=row.period,
                measures=list(row.measures or []),
            )
    return out


def _agreements(conn: Any, ids: list[str]) -> dict[str, _Agreement]:
    stmt = select(A.c.id, A.c.timezone, A.c.schedule, U.c.email).join(
        U, and_(U.c.agreement_id == A.c.id, U.c.id == A.c.process_owner)
    )
    out: dict[str, _Agreement] = {}
    for i in range(0, len(ids), CHUNK):
        for aid, tz, schedule, email in conn.execute(stmt.where(A.c.id.in_(ids[i : i + CHUNK]))):
            out[aid] = _Agreement(
                schedule=Schedule.from_settings(tz, schedule), due_md=schedule["follow_up"]["due"], owner_email=email
            )
    return out


def _recorded(conn: Any, ids: list[str]) -> dict[tuple[str, int], datetime]:
    """When the latest version of each (commitment, period)'s follow-up was recorded."""
    latest: dict[tuple[str, int], tuple[int, datetime]] = {}
    for i in range(0, len(ids), CHUNK):
        rows = conn.execute(
            select(F.c.commitment_id, F.c.period, F.c.version, F.c.recorded_at).where(
                F.c.commitment_id.in_(ids[i : i + CHUNK])
            )
        )
        for cid, period, version, at in rows:
            if (cid, period) not in latest or latest[(cid, period)][0] < version:
                latest[(cid, period)] = (version, at)
    return {k: at for k, (_, at) in latest.items()}


def _store_moves(conn: Any, moved: dict[str, lifecycle.Moved], now: datetime) -> None:
    """The commitments' new state and dates, as ``service.record_move`` stores them.

    ``next_check`` is ``now``: the next tick decides what follows (end, new period), as
    after ``record_follow_up``.
    """
    extended = extended_dues(conn, moved)
    due: dict[str, date | None] = {cid: stored_due(extended, cid, m.period, m.next_due) for cid, m in moved.items()}
    bulk.move(
        conn,
        C,
        [
            {"b_id": cid, "b_state": m.state, "b_since": now, "b_period": m.period, "b_due": due[cid], "b_next": now}
            for cid, m in sorted(moved.items())
        ],
    )


def _cancellations(session: Session, reported: list[tuple[str, int]], now: datetime) -> list[QueueNotice]:
    """``calendar_events.cancellation`` for the reports whose event may be in a calendar.

    That function queues one only when a reminder carrying the event was sent or a mail
    or export stamped it; both are read here once for all reports, and it is asked only
    for those — almost never in a simulation, which sends nothing.
    """
    uids = {calendar_events.follow_up_uid(cid, period): (cid, period) for cid, period in reported}
    maybe = {uids[u] for u in calendar_events.known(session, uids)}
    ids = sorted({cid for cid, _ in reported})
    conn = session.connection()
    for i in range(0, len(ids), CHUNK):
        sent = conn.execute(
            select(OUT.c.commitment_id, OUT.c.period)
            .where(
                OUT.c.kind == "reminder",
                OUT.c.state == OutboxState.SENT,
                OUT.c.commitment_id.in_(ids[i : i + CHUNK]),
            )
            .distinct()
        )
        maybe |= {(cid, period) for cid, period in sent} & set(reported)
    out: list[QueueNotice] = []
    for cid, period in sorted(maybe):
        c = session.get(Commitment, cid, populate_existing=True)  # as the set-based update left it
        assert c is not None
        cancel = calendar_events.cancellation(session, c, period, now=now)
        if cancel is not None:
            out.append(cancel)
    return out
