"""Ten years of outbox growth with gallra: the simulated decade's notices pruned by the real command.

Used by bench/instances.py (its docstring says how the estimate is made); kept apart for its length.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from engine import db
from engine.agreement import Agreement, load_agreement
from engine.api import commands_outbox
from engine.models import AgreementRow, Commitment, OutboxRow
from engine.plan import document_of, load_plan
from engine.simulate import simulate

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "boras-2015.yaml"
PER_AGREEMENT = 30
ZONE = load_agreement(CONFIG).zone


def copies_of(n: int) -> list[Agreement]:
    base = load_agreement(CONFIG)
    agreements = [base]
    for i in range(2, n + 1):
        doc = document_of(base)
        doc["agreement"]["id"] = f"boras-{i:03d}"
        agreements.append(Agreement.model_validate(doc))
    return agreements


def simulated_rows(copies: int, follow_ups: str, keep_days: int, scratch: Path) -> dict[str, Any]:
    """Rows per commitment over ten years (2016–2025), from the simulation of ``copies`` Borås copies.

    ``outbox_gallrat``: the outbox rows left after ``gallra`` on 2025-12-31 keeping ``keep_days``.
    """
    agreements = copies_of(copies)
    kinds: Counter[str] = Counter()
    followed = 0
    notices = []
    periods: dict[str, int] = {}
    revision: dict[str, int] = {}
    for event in simulate(agreements, date(2016, 1, 1), date(2025, 12, 31), follow_ups=follow_ups):  # type: ignore[arg-type]
        kinds[event.kind] += 1
        if event.kind == "transition" and event.details.get("to") == "uppföljd":
            followed += 1
            # "uppföljning P registrerad": the commitment is in P+1 or later at the end.
            reported = int(str(event.details["why"]).split()[1])
            periods[event.commitment or ""] = max(periods.get(event.commitment or "", 0), reported + 1)
        elif event.kind != "transition" and event.kind != "revision_completed":
            notices.append(event)
            if event.commitment and isinstance(event.details.get("period"), int):
                periods[event.commitment] = max(periods.get(event.commitment, 0), event.details["period"])
        if event.kind == "revision_completed" and event.agreement:
            revision[event.agreement] = max(revision.get(event.agreement, 0), int(event.details["revision"]) + 1)
    commitments = copies * PER_AGREEMENT
    kept, archive_bytes, seconds = gallra_simulated(agreements, notices, periods, revision, keep_days, scratch)
    return {
        "outbox": len(notices) / commitments,
        "transition_log": kinds["transition"] / commitments,
        "follow_ups": followed / commitments,
        "outbox_gallrat": kept / commitments,
        "archive_bytes_per_commitment": archive_bytes / commitments,
        "gallra_s": seconds,
        "gallra_rows": len(notices) - kept,
    }


def gallra_simulated(
    agreements: list[Agreement],
    notices: list[Any],
    periods: dict[str, int],
    revision: dict[str, int],
    keep_days: int,
    scratch: Path,
) -> tuple[int, int, float]:
    """The simulated notices as sent outbox rows, then ``gallra``; returns (rows left, archive bytes, seconds)."""
    path = scratch / f"gallra-{uuid.uuid4().hex[:8]}.db"
    engine = db.connect(f"sqlite:///{path}")
    db.upgrade(engine)
    try:
        with db.transaction(engine) as s:
            for a in agreements:
                load_plan(s, a, now=datetime(2016, 1, 1, 9, tzinfo=ZONE))
        with engine.begin() as conn:
            for cid, period in periods.items():
                conn.execute(update(Commitment).where(Commitment.id == cid).values(period=period))
            for aid, number in revision.items():
                conn.execute(update(AgreementRow).where(AgreementRow.id == aid).values(revision_number=number))
            rows = []
            for e in notices:
                data = {k: v for k, v in e.details.items() if k not in ("key", "period")}
                rows.append(
                    {
                        "key": e.details["key"],
                        "kind": e.kind,
                        "agreement_id": e.agreement,
                        "commitment_id": e.commitment,
                        "period": e.details.get("period"),
                        "recipients": list(e.recipients),
                        "send_at": e.at,
                        "created_at": e.at,
                        "data": data,
                        "state": "sent",
                        "attempts": 1,
                        "sent_at": e.at,
                    }
                )
            for start in range(0, len(rows), 5000):
                conn.execute(insert(OutboxRow), rows[start : start + 5000])
        end = datetime.combine(date(2025, 12, 31), clock_time(23, 0), tzinfo=ZONE)
        archive = scratch / f"{path.stem}.jsonl.gz"
        began = time.perf_counter()
        done = commands_outbox.prune_outbox(
            engine, before=end.date() - timedelta(days=keep_days), archive=archive, now=end
        )
        seconds = time.perf_counter() - began
        with engine.connect() as conn:
            left = int(conn.execute(select(func.count()).select_from(OutboxRow)).scalar_one())
        return left, archive.stat().st_size if done.wrote else 0, seconds
    finally:
        engine.dispose()


def on_postgresql(engine: Engine, folder: Path, now: datetime) -> tuple[int, float, int]:
    """``gallra`` of a round's sent rows 60 days after ``now``, their windows closed: (rows, seconds, archive bytes)."""
    later = now + timedelta(days=60)
    archive = folder / "gallra-pg.jsonl.gz"
    began = time.perf_counter()
    done = commands_outbox.prune_outbox(engine, before=later.date(), archive=archive, now=later)
    return done.removed, time.perf_counter() - began, archive.stat().st_size if done.wrote else 0
