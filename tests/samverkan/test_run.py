"""`samverkan tick` and `samverkan run` as a person runs them."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import Engine, update

from engine import db, outbox
from engine.clock import FixedClock
from engine.models import OutboxRow
from notifications.settings import Settings
from rules.model import QueueNotice
from samverkan import run as runner
from samverkan.cli import main

ROOT = Path(__file__).resolve().parents[2]
BORAS = str(ROOT / "config" / "boras-2015.yaml")
EXE = Path(sys.executable).parent / "samverkan"


@pytest.fixture
def loaded_2026(db_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    from datetime import UTC, datetime

    from engine.clock import FixedClock

    assert (
        main(["init", "--db", db_url, "--config", BORAS], clock=FixedClock(datetime(2026, 11, 24, 8, tzinfo=UTC))) == 0
    )
    capsys.readouterr()
    return db_url


def test_tick_with_now_prints_what_it_did(loaded_2026: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tick", "--db", loaded_2026, "--now", "2026-11-24T10:00"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Tick 2026-11-24T10:00+01:00: 28 granskade, 28 övergångar, 0 nya notiser")
    assert main(["tick", "--db", loaded_2026, "--now", "2027-03-01T08:00+01:00", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 28 and {r["kind"] for r in rows} == {"reminder"}
    assert {r["at"] for r in rows} == {"2027-03-01T08:00:00+01:00"}


@pytest.mark.parametrize("now", ["igår", "2027-02-30T08:00", "2027-03-01 25:00"])
def test_tick_with_a_bad_now_is_one_line_exit_2(loaded_2026: str, capsys: pytest.CaptureFixture[str], now: str) -> None:
    assert main(["tick", "--db", loaded_2026, "--now", now]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--now: ogiltig tidpunkt" in err


def test_run_wakes_acts_on_what_is_due_and_stops_cleanly_on_sigterm(
    tmp_path: Path, read_until: Callable[..., str]
) -> None:
    url = f"sqlite:///{tmp_path / 'run.db'}"
    assert subprocess.run([EXE, "init", "--db", url, "--config", BORAS], capture_output=True).returncode == 0
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [EXE, "run", "--db", url], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        seen = read_until(proc, "nästa uppvaknande")
        assert "28 granskade, 28 övergångar" in seen
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 0
    assert "avslutar (signal SIGTERM)" in rest and "Traceback" not in seen + rest


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "en minut", "", "86401", "99999999999999999999999"])
def test_run_with_a_bad_retry_seconds_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    # Refused before the database is opened: this one does not even exist.
    assert main(["run", "--db", f"sqlite:///{tmp_path / 'finns-inte.db'}", "--retry-seconds", value]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("samverkan: fel: --retry-seconds: ")
    assert not (tmp_path / "finns-inte.db").exists()


@pytest.mark.parametrize(
    ("retry", "logged"), [(None, "2027-03-01T08:01:00+01:00"), (timedelta(seconds=7), "2027-03-01T08:00:07+01:00")]
)
def test_a_failed_wake_up_is_tried_again_after_the_retry_delay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, retry: timedelta | None, logged: str
) -> None:
    # A database that was never initialised: the tick's first statement fails, as on a restarting server.
    engine = db.connect(f"sqlite:///{tmp_path / 'tom.db'}")
    clock = FixedClock(datetime(2027, 3, 1, 7, 0, tzinfo=UTC))  # 08:00 in Stockholm
    scheduler = BlockingScheduler(timezone=runner.ZONE)  # never started: the wake-up's successor stays pending
    delay = retry or timedelta(minutes=1)  # the default is run's, one minute
    caplog.set_level(logging.INFO, logger="samverkan.run")
    before = datetime.now(UTC)
    if retry is None:
        runner.wake(engine, clock, scheduler, Settings())
    else:
        runner.wake(engine, clock, scheduler, Settings(), retry)
    after = datetime.now(UTC)
    engine.dispose()
    assert f"tick misslyckades ((sqlite3.OperationalError) no such table: tick_lock); försöker igen {logged}" in (
        caplog.text
    )
    (job,) = scheduler.get_jobs()
    # The scheduler runs on real time: the next wake-up is the delay from now, and retries with the same delay.
    assert before + delay <= job.trigger.run_date <= after + delay
    assert job.args[-1] == delay


def test_run_retries_a_failed_wake_up_after_retry_seconds_of_real_time(
    tmp_path: Path, read_until: Callable[..., str]
) -> None:
    url = f"sqlite:///{tmp_path / 'run.db'}"
    assert subprocess.run([EXE, "init", "--db", url, "--config", BORAS], capture_output=True).returncode == 0
    with sqlite3.connect(tmp_path / "run.db") as conn:  # every wake-up now fails, after run has started
        conn.execute("DROP TABLE tick_lock")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [EXE, "run", "--db", url, "--from", "2027-03-01T08:00", "--retry-seconds", "1"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        seen = read_until(proc, "tick misslyckades")
        seen += read_until(proc, "tick misslyckades", limit=30)  # the default would be 60 s
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 0 and "Traceback" not in seen + rest
    failures = re.findall(r"^(\S+ \S+) samverkan.run: tick misslyckades .*; försöker igen (\S+)$", seen, re.M)
    assert len(failures) == 2, seen
    # asctime is the process's local time; only the gap matters.
    first, second = (datetime.strptime(at, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC) for at, _ in failures)
    assert timedelta(seconds=0.9) <= second - first < timedelta(seconds=10), seen
    # The retry is logged on the rehearsed clock: a second after the failure, in the rehearsed morning.
    again = datetime.fromisoformat(failures[0][1])
    assert datetime(2027, 3, 1, 8, 0, 1, tzinfo=runner.ZONE) <= again < datetime(2027, 3, 1, 8, 1, tzinfo=runner.ZONE)


@dataclass
class Stepping:
    """A clock that moves on by ``step`` each time it is read (a wake-up whose work takes time)."""

    current: datetime
    step: timedelta

    def now(self) -> datetime:
        self.current += self.step
        return self.current


def test_the_retry_counts_from_the_failure_not_from_the_wake_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = db.connect(f"sqlite:///{tmp_path / 'tom.db'}")
    # Read at the wake-up (08:01) and at the failure (08:02): the failing run lasted a minute, longer than the delay.
    clock = Stepping(datetime(2027, 3, 1, 7, 0, tzinfo=UTC), timedelta(minutes=1))
    caplog.set_level(logging.INFO, logger="samverkan.run")
    runner.wake(engine, clock, BlockingScheduler(timezone=runner.ZONE), Settings(), timedelta(seconds=7))
    engine.dispose()
    assert "försöker igen 2027-03-01T08:02:07+01:00" in caplog.text


def test_a_claim_left_sending_wakes_run_when_its_lease_runs_out(engine: Engine) -> None:
    t = datetime(2027, 3, 1, 7, 0, tzinfo=UTC)
    lease = timedelta(minutes=10)
    assert runner.next_run(engine, t, lease) == t + runner.AT_LEAST  # nothing known: once a day
    notice = QueueNotice(key="k", kind="reminder", recipients=("a@boras.example",), send_at=t, agreement="boras")
    with engine.begin() as conn:
        outbox.queue(conn, [notice], t)
        # Claimed by a delivery run that then lost the database (or died) before it marked the row.
        conn.execute(update(OutboxRow).values(state="sending", claimed_by="borta:1", claimed_at=t))
    assert runner.next_run(engine, t + timedelta(seconds=30), lease) == t + lease
