"""Drill: an instance killed with SIGKILL while it delivers loses nothing.

One ``samverkan run`` instance on PostgreSQL delivers ``DRILL_NOTICES`` notices (default
600) to an SMTP server on 127.0.0.1; at a random moment while mail is arriving it is
killed with SIGKILL, and started again — ``DRILL_KILLS`` times (default 5; by hand ≥ 20).
A kill between the server's acceptance and the mark leaves rows ``sending``; the next
instance claims them again once the lease (``lease_seconds``, 2 s here) has run out,
and sends them with the same Message-ID.

The lease is compared with the instance's clock, and ``run --from`` starts that clock
where it is told. So each restart starts at the previous ``--from`` plus the real time the
killed instance ran plus the lease plus one second: later than any ``claimed_at`` the killed
instance wrote, by more than the lease, so its claims are stale at the restart's first
wake-up. (Starting every restart at the same ``--from`` would leave them unclaimable until
the clock caught up.)

Every notice arrives at least once; any duplicate carries the same Message-ID (each
received Message-ID is one of the expected ones); the duplicates are counted and printed.

By hand: ``DRILL_NOTICES=10000 DRILL_KILLS=20 DRILL_SINK_DELAY=0.005 .venv/bin/pytest -s tests/drills/test_crash.py``.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.postgresql


def test_sigkill_during_delivery_loses_nothing(
    pg_url: str,
    tmp_path: Path,
    chaos_server: Callable[..., Any],
    instances: Callable[..., Any],
    report: Callable[..., None],
    drill: Any,
) -> None:
    notices = drill.env_int("DRILL_NOTICES", 600)
    kills = drill.env_int("DRILL_KILLS", 5)
    seed = drill.env_int("DRILL_SEED", 7)
    lease = drill.env_float("DRILL_LEASE_SECONDS", 2)
    window = drill.env_float("DRILL_KILL_WINDOW", 0.5)  # the kill lands 0–window s after mail starts arriving
    rng = random.Random(seed)
    port, sink = chaos_server(delay=drill.env_float("DRILL_SINK_DELAY", 0.02))
    prepared = drill.prepare(pg_url, notices)
    settings = drill.write_settings(
        tmp_path / "settings.yaml", port, batch_size=50, lease_seconds=lease, smtp={"connections": 2}
    )
    done = drill.settled(prepared.engine, notices)

    start_at = drill.after(drill.DUE, -1)
    landed = orphaned = 0
    began = time.monotonic()
    for k in range(kills):
        before = sink.received()
        inst = instances(prepared.url, settings, start_at, f"killed-{k}")
        drill.wait_until(lambda b=before: sink.received() > b or done(), 60, "mail arriving", poll=0.01)
        if done():
            inst.stop()
            break
        time.sleep(rng.uniform(0, window))  # a random moment to kill at, not a wait for a result
        inst.kill()
        landed += 1
        sending = drill.outbox_states(prepared.engine)["sending"]
        orphaned += sending
        assert "Traceback" not in inst.text()
        start_at = drill.after(start_at, time.monotonic() - inst.started + lease + 1)

    final = instances(prepared.url, settings, start_at, "final")
    drill.wait_until(done, 60 + notices / 20, "outbox settled")
    assert final.stop() == 0, final.text()
    elapsed = time.monotonic() - began

    assert drill.outbox_states(prepared.engine) == {"sent": notices}
    received = sink.counts()
    duplicates = sum(received.values()) - len(received)
    report(
        "sigkill",
        notices=notices,
        kills=landed,
        rows_left_sending=orphaned,
        received=sum(received.values()),
        duplicates=duplicates,
        seconds=round(elapsed, 1),
    )
    assert set(received) == prepared.expected_ids()  # every notice, and no Message-ID but the notice's own
    assert duplicates <= orphaned  # only a claimed-but-unmarked row can be sent twice
    prepared.engine.dispose()


def test_sigterm_during_delivery_stops_within_a_batch(
    pg_url: str,
    tmp_path: Path,
    chaos_server: Callable[..., Any],
    instances: Callable[..., Any],
    report: Callable[..., None],
    drill: Any,
) -> None:
    """SIGTERM while mail goes out: the instance marks the batch in hand and exits; a restart sends the rest, once."""
    notices = drill.env_int("DRILL_NOTICES", 1000)
    port, sink = chaos_server(delay=drill.env_float("DRILL_SINK_DELAY", 0.02))  # 2 connections: ≤ 100 messages/s
    prepared = drill.prepare(pg_url, notices, tick_due=True)
    settings = drill.write_settings(tmp_path / "settings.yaml", port, batch_size=50, smtp={"connections": 2})
    start_at = drill.after(drill.DUE, -1)
    first = instances(pg_url, settings, start_at, "stopped")
    drill.wait_until(lambda: sink.received() >= notices // 10, 60, "mail arriving", poll=0.02)
    asked = time.monotonic()
    first.proc.send_signal(signal.SIGTERM)
    code = first.proc.wait(timeout=600)
    took = time.monotonic() - asked
    at_stop = sink.received()
    left_sending = drill.outbox_states(prepared.engine)["sending"]
    rest = instances(pg_url, settings, drill.after(start_at, time.monotonic() - first.started), "restarted")
    drill.wait_until(drill.settled(prepared.engine, notices), 60 + notices / 20, "outbox settled")
    assert rest.stop() == 0
    received = sink.counts()
    report(
        "sigterm",
        notices=notices,
        received_at_stop=at_stop,
        seconds_to_exit=round(took, 1),
        left_sending=left_sending,
        duplicates=sum(received.values()) - len(received),
    )
    assert code == 0
    assert set(received) == prepared.expected_ids() and set(received.values()) == {1}
    assert left_sending == 0  # the batch in hand was marked before the exit
    assert took < 5, f"took {took:.1f} s to stop; {at_stop} of {notices} sent by then (one batch is ~0.5 s)"
