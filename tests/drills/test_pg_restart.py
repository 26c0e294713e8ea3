"""Drill: PostgreSQL restarted while ``samverkan run`` delivers; the instances recover by themselves.

The drill restarts a PostgreSQL cluster of its own (the ``private_pg`` fixture in
conftest.py: ``initdb`` in a temporary folder, ``pg_ctl start`` on a free port on 127.0.0.1,
run as the ``postgres`` user when the tests run as root), never the shared server the rest of
the suite uses, so it runs with the rest of the suite. Without ``initdb``/``pg_ctl`` it skips,
unless SAMVERKAN_REQUIRE_PG=1 (CI), where that is a failure.

``DRILL_INSTANCES`` (default 2) instances deliver ``DRILL_NOTICES`` (default 600) to an
SMTP server on 127.0.0.1; once a quarter of the mail has arrived the cluster restarts
(``pg_ctl restart -m fast``: every client is disconnected). Each instance's next use of the
database fails ("tick misslyckades ... försöker igen"); its wake-up loop tries again
``DRILL_RETRY_SECONDS`` (default 1) later (``run --retry-seconds``; 60 s by default, real time
even under ``--from``) and delivers the rest. The batch each instance had sent but could not
mark stays ``sending`` until its lease (``DRILL_LEASE_SECONDS``, default 8 s: longer than the
rest takes here, so the instances are asleep by then) runs out; ``run`` wakes for that and
sends it again, with the same Message-IDs. Nothing is lost: every notice arrives, duplicates
only with the same Message-ID (about one batch per instance). About 20 s on 2 cores.

By hand: ``DRILL_NOTICES=10000 DRILL_INSTANCES=3 .venv/bin/pytest -s tests/drills/test_pg_restart.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

pytestmark = pytest.mark.postgresql


def test_postgresql_restart_during_delivery_loses_nothing(
    private_pg: Any,  # conftest.PrivatePostgres
    tmp_path: Path,
    chaos_server: Callable[..., Any],
    instances: Callable[..., Any],
    report: Callable[..., None],
    drill: Any,
) -> None:
    notices = drill.env_int("DRILL_NOTICES", 600)
    count = drill.env_int("DRILL_INSTANCES", 2)
    retry = drill.env_int("DRILL_RETRY_SECONDS", 1)
    port, sink = chaos_server(delay=drill.env_float("DRILL_SINK_DELAY", 0.02))
    prepared = drill.prepare(private_pg.url, notices)
    settings = drill.write_settings(
        tmp_path / "settings.yaml",
        port,
        batch_size=50,
        lease_seconds=drill.env_float("DRILL_LEASE_SECONDS", 8),
        smtp={"connections": 2},
    )
    engine = prepared.engine

    def done() -> bool:
        try:
            return bool(drill.settled(engine, notices)())
        except OperationalError:  # the server is restarting, or the pool still holds a dead connection
            engine.dispose()
            return False

    began = time.monotonic()
    start_at, retry_option = drill.after(drill.DUE, -1), ["--retry-seconds", str(retry)]
    procs = [instances(private_pg.url, settings, start_at, f"instance-{i}", retry_option) for i in range(count)]
    drill.wait_until(lambda: sink.received() >= notices // 4, 120, "a quarter of the mail arriving", poll=0.02)
    at_restart = sink.received()
    private_pg.restart()
    restarted = time.monotonic()
    engine.dispose()
    drill.wait_until(done, 240 + notices / 20, "outbox settled after the restart", poll=0.5)
    recovered = time.monotonic() - restarted
    codes = [p.stop() for p in procs]
    logs = [p.text() for p in procs]

    assert codes == [0] * count, logs
    assert not any("Traceback" in log for log in logs), logs
    noticed = sum("tick misslyckades" in log for log in logs)
    assert noticed >= 1, logs  # the restart was felt, and recovered from
    assert drill.outbox_states(engine) == {"sent": notices}
    received = sink.counts()
    duplicates = sum(received.values()) - len(received)
    report(
        "pg-restart",
        instances=count,
        notices=notices,
        received_before_restart=at_restart,
        instances_that_saw_the_error=noticed,
        received=sum(received.values()),
        duplicates=duplicates,
        seconds_to_recover=round(recovered, 1),
        seconds=round(time.monotonic() - began, 1),
    )
    assert set(received) == prepared.expected_ids()
    engine.dispose()
