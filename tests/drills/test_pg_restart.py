"""Drill: PostgreSQL restarted while ``samverkan run`` delivers; the instances recover by themselves.

Restarting the server under the rest of the suite is not safe (every other PostgreSQL test
would fail for a moment), so this drill runs only when asked::

    SAMVERKAN_DRILL_PG_RESTART=1 .venv/bin/pytest -s tests/drills/test_pg_restart.py

It restarts the cluster with
``pg_ctlcluster --skip-systemctl-redirect VERSION CLUSTER restart`` (VERSION is the one
folder in /etc/postgresql, CLUSTER ``main``; ``SAMVERKAN_DRILL_PG_CLUSTER=15/drill``
names another, e.g. a throw-away cluster on another port given in ``SAMVERKAN_TEST_PG_URL``).

``DRILL_INSTANCES`` (default 2) instances deliver ``DRILL_NOTICES`` (default 600) to an
SMTP server on 127.0.0.1; once a quarter of the mail has arrived the server restarts. Each
instance's next use of the database fails ("tick misslyckades ... försöker igen"), its
wake-up loop retries one minute later (``engine.runner.RETRY``, real time even under
``--from``), and by then the lease (5 s) of the rows it had claimed but not marked has run
out, so it claims them again. Nothing is lost: every notice arrives, duplicates only with
the same Message-ID. Expect about 1–2 minutes.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.drill_pg_restart,
    pytest.mark.skipif(
        os.environ.get("SAMVERKAN_DRILL_PG_RESTART") != "1",
        reason="restarts the PostgreSQL server: set SAMVERKAN_DRILL_PG_RESTART=1 (docs/operations.md)",
    ),
]


def _cluster() -> list[str]:
    named = os.environ.get("SAMVERKAN_DRILL_PG_CLUSTER")
    if named:
        version, cluster = named.split("/", 1)
        return [version, cluster]
    (version,) = os.listdir("/etc/postgresql")
    return [version, "main"]


def test_postgresql_restart_during_delivery_loses_nothing(
    own_pg_url: str,
    tmp_path: Path,
    chaos_server: Callable[..., Any],
    instances: Callable[..., Any],
    report: Callable[..., None],
    drill: Any,
) -> None:
    notices = drill.env_int("DRILL_NOTICES", 600)
    count = drill.env_int("DRILL_INSTANCES", 2)
    port, sink = chaos_server(delay=drill.env_float("DRILL_SINK_DELAY", 0.02))
    prepared = drill.prepare(own_pg_url, notices)
    settings = drill.write_settings(
        tmp_path / "settings.yaml", port, batch_size=50, lease_seconds=5, smtp={"connections": 2}
    )
    engine = prepared.engine

    def done() -> bool:
        try:
            return bool(drill.settled(engine, notices)())
        except OperationalError:  # the server is restarting, or the pool still holds a dead connection
            engine.dispose()
            return False

    began = time.monotonic()
    procs = [instances(own_pg_url, settings, drill.after(drill.DUE, -1), f"instance-{i}") for i in range(count)]
    drill.wait_until(lambda: sink.received() >= notices // 4, 120, "a quarter of the mail arriving", poll=0.02)
    at_restart = sink.received()
    restart = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *_cluster(), "restart"], capture_output=True, text=True
    )
    assert restart.returncode == 0, restart.stderr
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
