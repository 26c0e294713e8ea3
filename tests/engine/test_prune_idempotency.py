"""Gallring never lets a notice be queued twice: the outbox row is its idempotency key.

Borås runs for two years on the engine's own wake-ups, its notices marked sent as they fall
due; the police report each period on its due date, the municipality never does, and the
2024 revision is never completed (so there are reminders, new periods, overdue notices
every 14 days, escalations, late-revision notices and weekly summaries). Run once as it
is and once with a gallring at every wake-up keeping nothing (``--before`` today: the
hardest setting), the two must queue exactly the same notices at the same instants.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Engine, Table, func, select, update

from engine import db
from engine.agreement import Agreement
from engine.api import commands, commands_outbox
from engine.models import Commitment, EffortRow, OutboxRow
from engine.service import record_follow_up
from engine.tick import NoticeQueued, next_wakeup, tick
from tests.prune_scenario import STHLM, at

OUT = cast(Table, OutboxRow.__table__)
START = at(2024, 11, 24, 10)
STOP = at(2026, 12, 31)


def report_for_the_police(engine: Engine, now: datetime) -> None:
    today = now.astimezone(STHLM).date()
    with db.transaction(engine) as s:
        due = s.scalars(
            select(Commitment).where(
                Commitment.party == "polis", Commitment.state == "pågående", Commitment.next_due <= today
            )
        ).all()
        for c in due:
            effort = s.get(EffortRow, (c.agreement_id, c.effort_id))
            assert effort is not None
            values = {
                m["id"]: int(m.get("target") or 1) if m.get("kind", "count") == "count" else "Genomfört"
                for m in effort.measures
                if not m.get("parties") or c.party in m["parties"]
            }
            record_follow_up(s, c.id, period=c.period, values=values, comment="Enligt plan", by="Polisen", now=now)


def drive(engine: Engine, boras: Agreement, folder: Path | None) -> list[tuple[str, datetime]]:
    commands.load_plan(engine, boras, now=START)
    queued: list[tuple[str, datetime]] = []
    now, runs = START, 0
    while now < STOP:
        report = tick(engine, now)
        queued += [(e.notice.key, e.notice.send_at) for e in report.events if isinstance(e, NoticeQueued)]
        with engine.begin() as conn:  # delivered, as the dispatcher marks it
            conn.execute(
                update(OUT)
                .where(OUT.c.state == "pending", OUT.c.send_at <= now)
                .values(state="sent", sent_at=now, attempts=1)
            )
        report_for_the_police(engine, now)
        if folder is not None:
            runs += 1
            today = now.astimezone(STHLM).date()
            commands_outbox.prune_outbox(engine, before=today, archive=folder / f"{runs}.jsonl.gz", now=now)
        with engine.connect() as conn:
            pending = conn.execute(select(func.min(OUT.c.send_at)).where(OUT.c.state == "pending")).scalar()
        found = [t for t in (next_wakeup(engine), db.as_utc(pending) if pending else None) if t is not None]
        now = max(min(found), now + timedelta(minutes=1)) if found else STOP
    return queued


@pytest.fixture
def without(tmp_path: Path, boras: Agreement) -> list[tuple[str, datetime]]:
    # The same run without gallring, once, on SQLite: what the engine queues does not depend on the backend.
    plain = db.connect(f"sqlite:///{tmp_path / 'plain.db'}")
    db.upgrade(plain)
    try:
        return drive(plain, boras, None)
    finally:
        plain.dispose()


def test_gallring_at_every_wake_up_queues_nothing_twice(
    engine: Engine, boras: Agreement, tmp_path: Path, without: list[tuple[str, datetime]]
) -> None:
    folder = tmp_path / "arkiv"
    folder.mkdir()
    pruned = drive(engine, boras, folder)
    kinds = {key.split(":")[0] for key, _ in without}
    assert {"reminder", "overdue", "escalation", "revision_overdue", "weekly_summary"} <= kinds
    archived = sum(1 for p in folder.iterdir() if p.stat().st_size > 20)
    assert archived > 10  # it did gallra, again and again
    assert pruned == without
