"""Drill: PostgreSQL restarted while ``samverkan run`` delivers; the instances recover by themselves.

The drill restarts a PostgreSQL cluster of its own (the ``private_pg`` fixture in
conftest.py: ``initdb`` in a temporary folder, ``pg_ctl start`` on a free port on 127.0.0.1,
run as the ``postgres`` user when the tests run as root), never the shared server the rest of
the suite uses, so it runs with the rest of the suite. Without ``initdb``/``pg_ctl`` it skips,
unless SAMVERKAN_REQUIRE_PG=1 (CI), where that is a failure.

``DRILL_INSTANCES`` (default 2) instances deliver ``DRILL_NOTICES`` (default 600) to an
SMTP server on 127.0.0.1; once a quarter of the mail has arrived the cluster restarts
(``pg_ctl restart -m fast``: every client is disconnected). An instance that was sending
when the server went away marks its batch once the server is back (the dispatcher tries the
mark again for up to half the lease, "kunde inte markera ... försöker igen"), so nothing is
sent twice. An instance whose next use of the database fails ("tick misslyckades ... försöker
igen") tries again ``DRILL_RETRY_SECONDS`` (default 1) later (``run --retry-seconds``; 60 s by
default, real time even under ``--from``) and delivers the rest. Rows a failed claim left
``sending`` wait for their lease (``DRILL_LEASE_SECONDS``, default 8 s); ``run`` wakes for
that. Nothing is lost and nothing is sent twice: every notice arrives exactly once. About
15 s on 2 cores.

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
    noticed = sum("tick misslyckades" in log or "kunde inte markera" in log for log in logs)
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
        marks_tried_again=sum(log.count("kunde inte markera") for log in logs),
        seconds_to_recover=round(recovered, 1),
        seconds=round(time.monotonic() - began, 1),
    )
    assert set(received) == prepared.expected_ids()
    # A batch sent while the server was away is marked once it is back, not sent again.
    assert duplicates == 0, logs
    engine.dispose()
