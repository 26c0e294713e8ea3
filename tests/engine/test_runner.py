"""`samverkan tick` and `samverkan run` as a person runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.cli import main

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
