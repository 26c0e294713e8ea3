"""`python3 tasks.py run --from ISO`: the README's rehearsal, with the runner and the web on one clock."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def tasks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tasks", ROOT / "tasks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_passes_the_rehearsed_instant_to_both_the_runner_and_the_web() -> None:
    rehearsal = tasks().rehearsal
    assert rehearsal([]) == []
    assert rehearsal(["--from", "2027-03-01T09:00"]) == ["--from", "2027-03-01T09:00"]
    assert rehearsal(["--from=2027-03-01T09:00"]) == ["--from", "2027-03-01T09:00"]


@pytest.mark.parametrize("args", [["--from"], ["--port", "8081"], ["2027-03-01"]])
def test_anything_else_is_refused_in_swedish_before_anything_is_installed(args: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        tasks().rehearsal(args)
    assert "användning: python3 tasks.py run [--from" in str(caught.value.code)
