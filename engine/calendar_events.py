"""Calendar events that update instead of piling up: one UID per deadline, its SEQUENCE stored.

Every mail and every export that carries a deadline carries it as the same event: the
UID is a function of the deadline (a commitment's follow-up of one period, or an
agreement's revision), never of the mail. RFC 5545 clients, Outlook above all, apply an
event they already hold only when its SEQUENCE is higher than theirs, so the number
lives in the database (``calendar_events``, migration 0009): ``stamp`` gives the
SEQUENCE a mail or export writes, raised by one whenever the date or the cancellation
differs from what the event last said.

When a follow-up is recorded, the event may still be in the responsible unit's
calendar: ``cancellation`` is the held ``calendar_cancel`` notice that rides along with
that address's next mail (rules.model.OutboxState.HELD) and carries the event as
cancelled. It is queued after the report has withdrawn the period's reminders, so that
withdrawal never takes it; when a held notice is withdrawn is rules.withdrawal's to say.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from sqlalchemy import Table, or_, select, update
from sqlalchemy.orm import Session

from engine.models import AgreementRow, CalendarEvent, Commitment, EffortRow, OutboxRow, UnitRow
from engine.outbox import insert_ignoring
from rules.model import OutboxState, QueueNotice

EVENTS = cast(Table, CalendarEvent.__table__)


def follow_up_uid(commitment: str, period: int) -> str:
    """The one calendar event of a commitment's follow-up for ``period``.

    Every mail that attaches it (the −30, −7 and 0 reminders, the cancellation after the
    report) and every export carries the same UID, so a calendar program updates the
    event instead of adding another.
    """
    return _uid(f"followup:{commitment}:{period}")


def revision_uid(agreement: str, number: int) -> str:
    """The one calendar event of an agreement's revision ``number``."""
    return _uid(f"revision:{agreement}:{number}")


def _uid(deadline: str) -> str:
    return f"{hashlib.sha256(deadline.encode()).hexdigest()[:24]}@samverkan"


def stamp(session: Session, uid: str, due: date, *, cancelled: bool = False, now: datetime) -> int:
    """The SEQUENCE of event ``uid`` saying ``due`` (and ``cancelled``): stored, in the caller's transaction.

    0 for a UID never stamped before; raised by one whenever the date or the cancellation
    differs from what was stored last; unchanged otherwise, so every mail and export that
    says the same thing carries the same number.
    """
    return stamp_all(session, [(uid, due, cancelled)], now=now)[uid]


def stamp_all(session: Session, events: Iterable[tuple[str, date, bool]], *, now: datetime) -> dict[str, int]:
    """``stamp`` for many events at once: uid → SEQUENCE; a UID given twice counts as its last.

    Safe under concurrency on both dialects: a new UID is inserted with ``ON CONFLICT DO
    NOTHING`` (two transactions inserting it: one wins, the other reads it), and a change
    is one conditional ``UPDATE … SET sequence = sequence + 1 WHERE due or cancelled
    differs``, which PostgreSQL re-checks after waiting for a concurrent writer, so two
    transactions saying the same new date raise it once. UIDs are written in sorted order,
    so two batches never wait for each other in opposite orders.
    """
    wanted = {uid: (due, cancelled) for uid, due, cancelled in events}
    if not wanted:
        return {}
    uids = sorted(wanted)
    conn = session.connection()
    rows = [{"uid": u, "due": wanted[u][0], "sequence": 0, "cancelled": wanted[u][1], "changed_at": now} for u in uids]
    new = set(insert_ignoring(conn, EVENTS, rows, ["uid"]).scalars().all())
    out = dict.fromkeys(new, 0)
    old = [u for u in uids if u not in new]
    if not old:
        return out
    stored = known(session, old)
    for u in old:
        due, cancelled = wanted[u]
        row = stored[u]
        if row.due == due and row.cancelled == cancelled:
            out[u] = row.sequence
            continue
        raised = conn.execute(
            update(EVENTS)
            .where(EVENTS.c.uid == u, or_(EVENTS.c.due != due, EVENTS.c.cancelled != cancelled))
            .values(sequence=EVENTS.c.sequence + 1, due=due, cancelled=cancelled, changed_at=now)
            .returning(EVENTS.c.sequence)
        ).scalar()
        if raised is None:  # a concurrent transaction stored the same change first
            raised = conn.execute(select(EVENTS.c.sequence).where(EVENTS.c.uid == u)).scalar_one()
        out[u] = int(raised)
    return out


@dataclass(frozen=True)
class Stored:
    """What an event last said, as stored."""

    uid: str
    due: date
    sequence: int
    cancelled: bool


def known(session: Session, uids: Iterable[str]) -> dict[str, Stored]:
    """The stored events among ``uids``: those some mail or export has carried.

    Read through Core, as ``stamp_all`` writes: no ORM object goes stale in the session.
    """
    wanted = sorted(set(uids))
    if not wanted:
        return {}
    stmt = select(EVENTS.c.uid, EVENTS.c.due, EVENTS.c.sequence, EVENTS.c.cancelled).where(EVENTS.c.uid.in_(wanted))
    return {r.uid: Stored(r.uid, r.due, int(r.sequence), bool(r.cancelled)) for r in session.connection().execute(stmt)}


def cancellation(session: Session, c: Commitment, period: int, *, now: datetime) -> QueueNotice | None:
    """The held ``calendar_cancel`` notice for ``c``'s follow-up of ``period``, once it is recorded.

    Only when the event may be in someone's calendar: a reminder carrying it was sent, or
    a mail or export stamped it. It goes to the address the last reminder went to (else
    the responsible unit's), and its data says which event it cancels and what it said.
    The event is stored as it stands (not yet cancelled) if no mail stored it: whoever
    writes the cancellation then raises its SEQUENCE.
    """
    uid = follow_up_uid(c.id, period)
    event = known(session, [uid]).get(uid)
    if event is not None and event.cancelled:
        return None
    sent = session.execute(
        select(OutboxRow.recipients, OutboxRow.data)
        .where(
            OutboxRow.kind == "reminder",
            OutboxRow.commitment_id == c.id,
            OutboxRow.period == period,
            OutboxRow.state == OutboxState.SENT,
        )
        .order_by(OutboxRow.sent_at.desc(), OutboxRow.id.desc())
        .limit(1)
    ).first()
    if event is None and sent is None:
        return None
    unit = session.get(UnitRow, (c.agreement_id, c.responsible))
    effort = session.get(EffortRow, (c.agreement_id, c.effort_id))
    agreement = session.get(AgreementRow, c.agreement_id)
    assert unit is not None and effort is not None and agreement is not None
    to = str(sent.recipients[0]) if sent is not None and sent.recipients else unit.email
    if event is not None:
        due = event.due
    elif sent is not None and "due" in sent.data:
        due = date.fromisoformat(str(sent.data["due"]))
    elif c.next_due is not None:
        due = c.next_due
    else:  # pragma: no cover - a reminder always says its due date
        return None
    if event is None:
        # Sent before the SEQUENCE was stored: the event is in the calendar as the reminder
        # said it (SEQUENCE 0). Stored so, the cancellation's stamp raises it above that.
        stamp(session, uid, due, now=now)
    return QueueNotice(
        key=f"calendar_cancel:{c.id}:{period}",
        kind="calendar_cancel",
        recipients=(to,),
        send_at=now,
        agreement=c.agreement_id,
        commitment=c.id,
        period=period,
        data={
            "uid": uid,
            "due": due.isoformat(),
            "period": period,
            "commitment": c.id,
            "party": c.party,
            "effort": effort.title,
            "unit": unit.name,
            "agreement_title": agreement.title,
            "reported_at": now.isoformat(),
        },
    )
