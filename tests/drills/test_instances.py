"""Drill: several ``samverkan run`` instances on one PostgreSQL database share the work, once.

Three instances (``DRILL_INSTANCES``) start on the same ``--db`` with ``--from`` a few
seconds before 2027-03-01 08:00, when the Borås reminders are due; the outbox also holds
copies of those reminders, ``DRILL_NOTICES`` notices in all (default 600). At 08:00 every
instance ticks (the tick lock row serialises them: the 28 reminders are queued once) and
delivers (``FOR UPDATE SKIP LOCKED`` gives each instance rows of its own). The SMTP
server on 127.0.0.1 counts Message-IDs: every notice arrives, none twice. The instances
are stopped with SIGTERM once the outbox has nothing pending or sending.

By hand: ``DRILL_NOTICES=10000 DRILL_INSTANCES=3 .venv/bin/pytest -s tests/drills/test_instances.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.models import OutboxRow

pytestmark = pytest.mark.postgresql


def test_three_instances_deliver_every_notice_once(
    pg_url: str,
    tmp_path: Path,
    chaos_server: Callable[..., Any],
    instances: Callable[..., Any],
    report: Callable[..., None],
    drill: Any,
) -> None:
    notices = drill.env_int("DRILL_NOTICES", 600)
    count = drill.env_int("DRILL_INSTANCES", 3)
    lead = drill.env_float("DRILL_LEAD_SECONDS", 8)  # start this long before DUE, so all are up at DUE
    port, sink = chaos_server(delay=drill.env_float("DRILL_SINK_DELAY", 0.05))  # ≤ 80 messages/s per instance
    prepared = drill.prepare(pg_url, notices)
    settings = drill.write_settings(tmp_path / "settings.yaml", port, batch_size=100)

    began = time.monotonic()
    procs = [instances(pg_url, settings, drill.after(drill.DUE, -lead), f"instance-{i}") for i in range(count)]
    for p in procs:  # each has woken once before DUE (nothing due yet) and sleeps until DUE
        drill.wait_until(lambda p=p: "vaknade" in p.text(), 60, "first wake-up")
    drill.wait_until(drill.settled(prepared.engine, notices), 60 + notices / 20, "outbox settled")
    elapsed = time.monotonic() - began
    codes = [p.stop() for p in procs]

    logs = [p.text() for p in procs]
    assert codes == [0] * count, logs
    assert not any("Traceback" in log for log in logs), logs
    assert drill.outbox_states(prepared.engine) == {"sent": notices}
    with prepared.engine.connect() as conn:
        by_worker = dict(conn.execute(select(OutboxRow.claimed_by, func.count()).group_by(OutboxRow.claimed_by)).all())
        keys = set(conn.execute(select(OutboxRow.key)).scalars())
    assert keys == prepared.keys
    received = sink.counts()
    duplicates = sum(received.values()) - len(received)
    report(
        "instances",
        instances=count,
        notices=notices,
        received=sum(received.values()),
        duplicates=duplicates,
        per_instance=sorted(by_worker.values(), reverse=True),
        delivery_seconds=round(sink.last - sink.first, 1),
        msg_per_s=sink.rate(),
        seconds_total=round(elapsed, 1),
    )
    assert set(received) == prepared.expected_ids()
    assert set(received.values()) == {1}  # no mail twice
    if count > 1:
        assert len(by_worker) >= 2, f"one instance did all the work: {by_worker}"
    prepared.engine.dispose()


def test_a_delivery_run_longer_than_the_lease_is_not_taken_over(
    pg_url: str,
    tmp_path: Path,
    chaos_server: Callable[..., Any],
    instances: Callable[..., Any],
    report: Callable[..., None],
    drill: Any,
) -> None:
    """Two live instances sharing one clock: B starts while A's delivery run is older than the lease.

    Both instances read the same (shifted) time: B's ``--from`` is A's ``--from`` plus the real
    time since A started. A notice claimed by a live instance must not be claimed again, so
    every Message-ID arrives once. (When A stamped all its claims with its wake-up time, B
    found them older than the lease and sent them as well: 350 of 600 twice.)
    """
    notices = drill.env_int("DRILL_NOTICES", 600)
    lease = drill.env_float("DRILL_LEASE_SECONDS", 3)
    port, sink = chaos_server(delay=drill.env_float("DRILL_SINK_DELAY", 0.02))
    prepared = drill.prepare(pg_url, notices, tick_due=True)
    settings = drill.write_settings(
        tmp_path / "settings.yaml", port, batch_size=50, lease_seconds=lease, smtp={"connections": 2}
    )
    start_a = drill.after(drill.DUE, -1)
    a = instances(pg_url, settings, start_a, "instance-a")
    drill.wait_until(lambda: sink.received() > 0, 60, "A delivering", poll=0.02)
    drill.wait_until(lambda: time.monotonic() - a.started > lease + 1.5, 60, "A's run older than the lease", poll=0.05)
    if drill.settled(prepared.engine, notices)():
        pytest.skip("A finished before B started: raise DRILL_NOTICES or DRILL_SINK_DELAY")
    b = instances(pg_url, settings, drill.after(start_a, time.monotonic() - a.started), "instance-b")
    drill.wait_until(drill.settled(prepared.engine, notices), 60 + notices / 20, "outbox settled")
    assert a.stop() == 0 and b.stop() == 0
    received = sink.counts()
    duplicates = sum(received.values()) - len(received)
    report("long-run", notices=notices, lease_s=lease, received=sum(received.values()), duplicates=duplicates)
    assert set(received) == prepared.expected_ids()
    assert duplicates == 0, f"{duplicates} notices sent by both live instances"
    prepared.engine.dispose()
