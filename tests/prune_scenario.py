"""An outbox with every case ``gallra`` must tell apart, on a Borås database run since 2024.

Borås is loaded on 24 November 2024 and ticked; mbu.polis reports 2024 on 10 January
2025 (a follow-up, its transitions and a deviation) and a tick on 2 January 2026 opens its period 2025;
every other commitment is still in 2024. Then one notice per case is put in the outbox
and set to its state as the dispatcher would have left it. ``GOES`` are the keys a
gallring before 1 January 2026, run on 1 June 2026, must take; every other row stays.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table, select, update

from engine import db, outbox
from engine.agreement import Agreement
from engine.api import commands
from engine.models import (
    AgreementRow,
    Commitment,
    FollowUp,
    OutboxRow,
    PartyEvent,
    Revision,
    RevisionDecision,
    TransitionRecord,
)
from engine.tick import tick
from rules.model import QueueNotice

STHLM = ZoneInfo("Europe/Stockholm")
OUT = cast(Table, OutboxRow.__table__)
RECORD = (TransitionRecord, FollowUp, Revision, RevisionDecision, PartyEvent, Commitment, AgreementRow)


def at(y: int, m: int, d: int, hh: int = 8) -> datetime:
    return datetime(y, m, d, hh, tzinfo=STHLM)


NOW = at(2026, 6, 1, 9)
BEFORE = NOW.date().replace(month=1, day=1)
FAILED_KEY = "reminder:boras.mbu.polis:2024:-7"
DEC_2, MAR_3, MAR_17, MAY_5 = at(2024, 12, 2), at(2025, 3, 3), at(2025, 3, 17), at(2025, 5, 5)

# key → (kind, commitment, period, state, send_at, sent_at[, data])
CASES: dict[str, tuple[Any, ...]] = {
    # mbu.polis is in period 2025: its 2024 notices can never be asked for again.
    "reminder:boras.mbu.polis:2024:-30": ("reminder", "boras.mbu.polis", 2024, "sent", DEC_2, DEC_2),
    "overdue:boras.mbu.polis:2024:0": ("overdue", "boras.mbu.polis", 2024, "withdrawn", MAR_3, None),
    FAILED_KEY: ("reminder", "boras.mbu.polis", 2024, "failed", at(2024, 12, 20), None),
    "delivery_failed:1": ("delivery_failed", None, None, "sent", at(2024, 12, 20, 9), at(2024, 12, 20, 9)),
    "weekly_summary:boras:2025-W10": ("weekly_summary", None, None, "sent", MAR_3, MAR_3),
    "change_notice:boras:1": ("change_notice", None, None, "sent", at(2025, 4, 1), at(2025, 4, 1)),
    "invite:1:abc": ("invite", None, None, "sent", at(2025, 4, 2), at(2025, 4, 2)),
    # mbu.kommun never reported 2024, but these windows have closed: the rule asks for later keys now.
    "reminder:boras.mbu.kommun:2024:-30": ("reminder", "boras.mbu.kommun", 2024, "sent", DEC_2, DEC_2),
    "overdue:boras.mbu.kommun:2024:2": ("overdue", "boras.mbu.kommun", 2024, "sent", MAR_17, MAR_17),
    # Stay: not done, not shown, still askable, too new, or the agreement's own kind.
    "reminder:boras.mbu.polis:2024:0": ("reminder", "boras.mbu.polis", 2024, "failed", at(2025, 1, 8), None),
    "escalation:boras.mbu.kommun:2024": ("escalation", "boras.mbu.kommun", 2024, "sent", MAY_5, MAY_5),
    "overdue:boras.sspf.kommun:2024:3": ("overdue", "boras.sspf.kommun", 2024, "pending", MAR_3, None),
    "overdue:boras.sspf.polis:2024:3": ("overdue", "boras.sspf.polis", 2024, "sending", MAR_3, None),
    "calendar_cancel:boras.mbu.polis:2024": ("calendar_cancel", "boras.mbu.polis", 2024, "held", at(2025, 1, 10), None),
    "reminder:boras.mbu.polis:2025:-30": ("reminder", "boras.mbu.polis", 2025, "sent", at(2026, 2, 2), at(2026, 2, 2)),
    "change_notice:boras:2": ("change_notice", None, None, "sent", at(2025, 12, 31, 22), at(2026, 1, 1, 9)),
}
GOES = {
    "reminder:boras.mbu.polis:2024:-30",
    "overdue:boras.mbu.polis:2024:0",
    FAILED_KEY,
    "delivery_failed:1",
    "weekly_summary:boras:2025-W10",
    "change_notice:boras:1",
    "invite:1:abc",
    "reminder:boras.mbu.kommun:2024:-30",
    "overdue:boras.mbu.kommun:2024:2",
}


def build(engine: Engine, boras: Agreement) -> dict[str, str]:
    """The scenario on ``engine``; returns the revision kick-off keys: {"old": goes, "current": stays}."""
    commands.load_plan(engine, boras, now=at(2024, 11, 24, 10))
    tick(engine, at(2024, 11, 24, 10))
    done = commands.record_follow_up(
        engine, "mbu.polis", period=2024, values={"utbildningar": 1}, comment="En", by="Polisen", now=at(2025, 1, 10)
    )
    assert done.deviations == ("utbildningar",)
    tick(engine, at(2026, 1, 2, 11))  # reporting for 2025 has opened: mbu.polis is in period 2025
    with db.transaction(engine) as s:
        conn = s.connection()
        assert conn.execute(select(Commitment.period).where(Commitment.id == "boras.mbu.polis")).scalar() == 2025
        revision = conn.execute(select(AgreementRow.revision_number)).scalar_one()
        # Whatever the ticks queued is old enough, but the test's own rows are the cases.
        conn.execute(OUT.delete().where(OUT.c.kind != "deviation"))
        conn.execute(update(OUT).values(state="sent", sent_at=at(2025, 1, 13), send_at=at(2025, 1, 13)))
        kickoffs = {
            "old": f"revision_kickoff:boras:{revision - 1}",
            "current": f"revision_kickoff:boras:{revision}",
        }
        cases = dict(CASES)
        for name, key in kickoffs.items():
            number = revision - 1 if name == "old" else revision
            cases[key] = ("revision_kickoff", None, None, "sent", at(2025, 2, 3), at(2025, 2, 3), {"revision": number})
        for key, (kind, commitment, period, state, send_at, sent_at, *rest) in cases.items():
            data = rest[0] if rest else {"period": period}
            if kind == "delivery_failed":
                data = {"failed": [{"key": FAILED_KEY, "kind": "reminder", "recipients": ["x@boras.example"]}]}
            notice = QueueNotice(
                key=key,
                kind=kind,
                recipients=("fritid@boras.example",),
                send_at=send_at,
                agreement="boras",
                commitment=commitment,
                period=period,
                data=data,
            )
            outbox.queue(conn, [notice], send_at)
            extra: dict[str, Any] = {"state": state, "sent_at": sent_at}
            if state in ("sent", "failed", "sending"):
                extra |= {"attempts": 1, "claimed_by": "host:1", "claimed_at": send_at}
            if state == "sent":
                extra["message_id"] = f"<{abs(hash(key))}@samverkan>"
            if state == "failed":
                extra["last_error"] = "550 5.1.1 Mottagaren finns inte"
            if state == "withdrawn":
                extra["last_error"] = "uppföljningen registrerades"
            conn.execute(update(OUT).where(OUT.c.key == key).values(**extra))
    return kickoffs


def column(value: Any) -> Any:
    """A column's value as the archive writes it (instants as ISO 8601 UTC)."""
    return value.astimezone(ZoneInfo("UTC")).isoformat() if isinstance(value, datetime) else value


def outbox_dump(engine: Engine) -> dict[str, dict[str, Any]]:
    """Every outbox row by key, every column (written independently of engine.prune)."""
    with engine.connect() as conn:
        rows = conn.execute(select(*OUT.c).order_by(OUT.c.id)).all()
    return {r.key: {c.name: column(r._mapping[c.name]) for c in OUT.c} for r in rows}


def record_dump(engine: Engine) -> dict[str, list[str]]:
    """The agreement's record: every row of every table gallra must not touch, as text."""
    out = {}
    with engine.connect() as conn:
        for model in RECORD:
            table = cast(Table, model.__table__)
            rows = conn.execute(select(*table.c).order_by(*table.primary_key.columns)).all()
            out[table.name] = [json.dumps([column(v) for v in r], default=str, ensure_ascii=False) for r in rows]
    return out
