"""The tick: one evaluation of every rule for what is due at ``now``, in one transaction.

Set-based: commitments and agreements carry ``next_check``, the earliest instant at
which a rule has something to do for them; the tick selects ``next_check <= now``
through its index in batches, builds the rules' views from plain rows (no ORM
objects), applies what the rules return — lifecycle moves with their history rows,
notices into the outbox under their idempotency keys — and stores each row's new
``next_check``. Nothing else is read. A batch's writes go through ``engine.bulk``, one
statement per table on PostgreSQL, the driver's executemany on SQLite.

Ticks on one database run one at a time: the first statement updates the single
``tick_lock`` row, which takes SQLite's write lock or a PostgreSQL row lock until
commit. A second tick then sees the first one's result and finds nothing due; and
even without the lock the outbox's unique keys would keep a notice from being
queued twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, and_, bindparam, func, select, text, update

from engine import bulk, outbox, withdraw
from engine.attention import needs_attention
from engine.db import as_utc
from engine.deadlines import extended_dues, stored_due
from engine.models import (
    AgreementRow,
    Commitment,
    EffortRow,
    OutboxRow,
    PartyRow,
    Revision,
    TickLock,
    TransitionRecord,
    UnitRow,
)
from rules import commitment as commitment_rules
from rules import lifecycle
from rules import revision as revision_rules
from rules import weekly as weekly_rules
from rules.calendar import SwedishCalendar
from rules.model import AdvanceRevision, AgreementView, CommitmentView, FireTrigger, Outcome, QueueNotice, Schedule

C = cast(Table, Commitment.__table__)
A = cast(Table, AgreementRow.__table__)
E = cast(Table, EffortRow.__table__)
U = cast(Table, UnitRow.__table__)
P = cast(Table, PartyRow.__table__)
H = cast(Table, TransitionRecord.__table__)
LOCK = cast(Table, TickLock.__table__)
R = cast(Table, Revision.__table__)
OUT = cast(Table, OutboxRow.__table__)

BATCH = 2000


@dataclass(frozen=True, kw_only=True)
class TransitionApplied:
    commitment: str
    trigger: str
    from_state: str
    to_state: str
    at: datetime
    by: str
    why: str


@dataclass(frozen=True, kw_only=True)
class NoticeQueued:
    notice: QueueNotice


@dataclass(kw_only=True)
class TickReport:
    now: datetime
    examined: int = 0
    transitions: int = 0
    notices: int = 0
    duplicates: int = 0
    events: list[TransitionApplied | NoticeQueued] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class _AgreementContext:
    schedule: Schedule
    owner_email: str
    valid_to: date | None
    terminates: date | None


def tick(
    engine: Engine,
    now: datetime,
    *,
    calendar: SwedishCalendar | None = None,
    batch_size: int = BATCH,
    collect: bool = True,
) -> TickReport:
    """Evaluate every rule for what is due at ``now``; ``collect`` keeps each event."""
    if now.tzinfo is None:
        raise ValueError("tick needs an aware datetime")
    cal = calendar or SwedishCalendar()
    report = TickReport(now=now)
    with engine.begin() as conn:
        conn.execute(update(LOCK).where(LOCK.c.id == 1).values(ticked_at=now))
        contexts: dict[str, _AgreementContext] = {}
        _revisions(conn, now, cal, report, contexts, batch_size, collect)
        _commitments(conn, now, cal, report, contexts, batch_size, collect)
    if report.notices >= ANALYZE_AFTER and engine.dialect.name == "postgresql":
        _analyze_outbox(engine)
    return report


# A tick that queues this many notices changes what PostgreSQL should expect of the outbox.
ANALYZE_AFTER = 1_000


def _analyze_outbox(engine: Engine) -> None:
    """Fresh statistics for the outbox after a burst of new rows.

    Planned with the statistics from before the burst (few rows pending), PostgreSQL
    answered each claim with a bitmap scan of every due row and a sort, instead of
    reading the index in order and stopping at the batch: 22-75 ms a claim at 87,360
    due rows (bench/instances.py --size 1000000). Autovacuum analyses a table only
    after a tenth of it has changed, which a big, old outbox seldom does in one
    morning. ANALYZE reads a sample and takes no lock that blocks reading or writing.
    """
    with engine.begin() as conn:
        conn.execute(text("ANALYZE outbox"))


def _contexts(conn: Connection, ids: Iterable[str], cache: dict[str, _AgreementContext]) -> None:
    missing = sorted(set(ids) - set(cache))
    if not missing:
        return
    stmt = select(A.c.id, A.c.timezone, A.c.schedule, A.c.valid_to, A.c.terminates, U.c.email).join(
        U, and_(U.c.agreement_id == A.c.id, U.c.id == A.c.process_owner)
    )
    for chunk in _chunks(missing, 500):
        for aid, tz, schedule, valid_to, terminates, email in conn.execute(stmt.where(A.c.id.in_(chunk))):
            cache[aid] = _AgreementContext(
                schedule=Schedule.from_settings(tz, schedule),
                owner_email=email,
                valid_to=valid_to,
                terminates=terminates,
            )


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _queue(conn: Connection, notices: list[QueueNotice], now: datetime, report: TickReport, collect: bool) -> None:
    if not collect:
        count = bulk.queue_count(conn, notices, now)
        report.notices += count
        report.duplicates += len(notices) - count
        return
    inserted = bulk.queue_keys(conn, notices, now)
    report.notices += len(inserted)
    report.duplicates += len(notices) - len(inserted)
    report.events.extend(NoticeQueued(notice=n) for n in notices if n.key in inserted)


def _commitments(
    conn: Connection,
    now: datetime,
    cal: SwedishCalendar,
    report: TickReport,
    contexts: dict[str, _AgreementContext],
    batch_size: int,
    collect: bool,
) -> None:
    stmt = (
        select(C.c.id, C.c.agreement_id, C.c.state, C.c.period, C.c.next_due, E.c.starts, E.c.ends, U.c.email)
        .join(E, and_(E.c.agreement_id == C.c.agreement_id, E.c.id == C.c.effort_id))
        .join(U, and_(U.c.agreement_id == C.c.agreement_id, U.c.id == C.c.responsible))
        .where(C.c.next_check <= now)
        .order_by(C.c.next_check, C.c.id)
        .limit(batch_size)
    )
    while True:
        rows = conn.execute(stmt).all()
        if not rows:
            return
        report.examined += len(rows)
        _contexts(conn, {r.agreement_id for r in rows}, contexts)
        notices: list[QueueNotice] = []
        history: list[dict[str, Any]] = []
        plain: list[tuple[str, datetime | None]] = []
        changed: list[dict[str, Any]] = []
        ended: list[str] = []
        for r in rows:
            ctx = contexts[r.agreement_id]
            view = CommitmentView(
                id=r.id,
                agreement=r.agreement_id,
                state=r.state,
                period=r.period,
                starts=r.starts,
                ends=r.ends,
                unit_email=r.email,
                owner_email=ctx.owner_email,
                valid_to=ctx.valid_to,
                terminates=ctx.terminates,
                due=r.next_due,
            )
            outcome = commitment_rules.evaluate(view, ctx.schedule, now, cal)
            last_move = None
            for action in outcome.actions:
                if isinstance(action, FireTrigger):
                    step = action.moved
                    assert step is not None
                    history.append(
                        {
                            "commitment_id": r.id,
                            "at": now,
                            "trigger": step.trigger,
                            "from_state": step.from_state,
                            "to_state": step.state,
                            "by": action.rule,
                            "why": action.why,
                        }
                    )
                    if collect:
                        report.events.append(
                            TransitionApplied(
                                commitment=r.id,
                                trigger=step.trigger,
                                from_state=step.from_state,
                                to_state=step.state,
                                at=now,
                                by=action.rule,
                                why=action.why,
                            )
                        )
                    last_move = step
                elif isinstance(action, QueueNotice):
                    notices.append(action)
            if last_move is not None:
                if last_move.state == lifecycle.AVSLUTAD:
                    ended.append(r.id)
                changed.append(
                    {
                        "b_id": r.id,
                        "b_state": last_move.state,
                        "b_since": now,
                        "b_period": last_move.period,
                        "b_due": last_move.next_due,
                        "b_next": outcome.next_check,
                    }
                )
            else:
                plain.append((r.id, outcome.next_check))
        if history:
            bulk.record_history(conn, H, history)
            report.transitions += len(history)
        if changed:
            # A move says the calendar's due date; an extension of the period it leaves open stays.
            extended = extended_dues(conn, [c["b_id"] for c in changed])
            for c in changed:
                c["b_due"] = stored_due(extended, c["b_id"], c["b_period"], c["b_due"])
            bulk.move(conn, C, changed)
        bulk.set_next_check(conn, C, plain)
        if ended:
            # What was queued for them earlier no longer has a reason to go.
            withdraw.withdraw_stale(conn, now, commitments=ended)
        _queue(conn, notices, now, report, collect)


def _revisions(
    conn: Connection,
    now: datetime,
    cal: SwedishCalendar,
    report: TickReport,
    contexts: dict[str, _AgreementContext],
    batch_size: int,
    collect: bool,
) -> None:
    stmt = (
        select(A.c.id, A.c.signed, A.c.revision_number, A.c.revision_due)
        .where(A.c.next_check <= now)
        .order_by(A.c.next_check, A.c.id)
        .limit(batch_size)
    )
    advance = (
        update(A)
        .where(A.c.id == bindparam("b_id"))
        .values(revision_number=bindparam("b_number"), revision_due=bindparam("b_due"))
    )
    while True:
        rows = conn.execute(stmt).all()
        if not rows:
            return
        ids = [r.id for r in rows]
        _contexts(conn, ids, contexts)
        party_emails: dict[str, list[str]] = {}
        contact = select(P.c.agreement_id, U.c.email).join(
            U, and_(U.c.agreement_id == P.c.agreement_id, U.c.id == P.c.contact_unit)
        )
        for aid, email in conn.execute(contact.where(P.c.agreement_id.in_(ids)).order_by(P.c.agreement_id, P.c.id)):
            party_emails.setdefault(aid, []).append(email)
        attention = needs_attention(conn, ids, {i: now.astimezone(contexts[i].schedule.zone).date() for i in ids})
        live = set(
            conn.execute(
                select(C.c.agreement_id).where(C.c.agreement_id.in_(ids), C.c.state != lifecycle.AVSLUTAD).distinct()
            ).scalars()
        )
        notices: list[QueueNotice] = []
        nexts: list[tuple[str, datetime | None]] = []
        advances: list[dict[str, Any]] = []
        for r in rows:
            ctx = contexts[r.id]
            view = AgreementView(
                id=r.id,
                signed=r.signed,
                valid_to=ctx.valid_to,
                revision_number=r.revision_number,
                revision_due=r.revision_due,
                party_emails=tuple(party_emails.get(r.id, ())),
                owner_email=ctx.owner_email,
                terminates=ctx.terminates,
            )
            revision = revision_rules.evaluate(view, ctx.schedule, now, cal)
            outcome = revision
            if ctx.schedule.weekly_summary:
                weekly = weekly_rules.evaluate(
                    agreement=r.id,
                    owner_email=ctx.owner_email,
                    needs_attention=r.id in attention,
                    s=ctx.schedule,
                    now=now,
                    cal=cal,
                    live=r.id in live,
                )
                checks = [t for t in (revision.next_check, weekly.next_check) if t is not None]
                outcome = Outcome(actions=revision.actions + weekly.actions, next_check=min(checks) if checks else None)
            for action in outcome.actions:
                if isinstance(action, QueueNotice):
                    notices.append(action)
                elif isinstance(action, AdvanceRevision):
                    advances.append({"b_id": r.id, "b_number": action.number, "b_due": action.next_due})
            nexts.append((r.id, outcome.next_check))
        if advances:
            conn.execute(advance, advances)
            for a in {x["b_id"] for x in advances}:
                # The late notices of the revision that was replaced lost their reason.
                withdraw.withdraw_stale(conn, now, agreement=a)
        bulk.set_next_check(conn, A, nexts)
        _open_revisions(conn, notices, now)
        _queue(conn, notices, now, report, collect)


def _open_revisions(conn: Connection, notices: list[QueueNotice], now: datetime) -> None:
    """A kick-off opens its revision (once: unique on agreement and number)."""
    rows = []
    for n in notices:
        if n.kind != "revision_kickoff":
            continue
        version, due = conn.execute(select(A.c.plan_version, A.c.revision_due).where(A.c.id == n.agreement)).one()
        rows.append(
            {
                "agreement_id": n.agreement,
                "number": n.data["revision"],
                "due": due,
                "opened_at": now,
                "opened_by": "regel:revision",
                "plan_version_before": version,
            }
        )
    if rows:
        outbox.insert_ignoring(conn, R, rows, ["agreement_id", "number"])


def next_wakeup(engine: Engine) -> datetime | None:
    """The earliest ``next_check`` the database knows of (what ``run`` sleeps until)."""
    with engine.connect() as conn:
        a = conn.execute(select(func.min(A.c.next_check))).scalar()
        c = conn.execute(select(func.min(C.c.next_check))).scalar()
    # UTCDateTime's result processing does not apply to aggregates on SQLite.
    found = [as_utc(x) for x in (a, c) if x is not None]
    return min(found) if found else None
