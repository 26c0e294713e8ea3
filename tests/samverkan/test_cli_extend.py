"""``samverkan extend``: an extension (anstånd) from the command line, and its refusals."""

from __future__ import annotations

import json

import pytest

from tests.samverkan.test_cli import initialised, run

__all__ = ["initialised"]


def test_extend_moves_the_due_date_the_status_shows(initialised: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--db", initialised, "tick", "--now", "2026-11-24T10:00")[0] == 0
    code, out, _ = run(
        capsys, "--db", initialised, "extend", "mbu.polis", "--period", "2026", "--due", "2027-05-01",
        "--reason", "Ny kommunpolis", "--by", "BråB", "--now", "2027-03-02T10:00",
    )  # fmt: skip
    assert code == 0
    assert out.splitlines()[0] == (
        "boras.mbu.polis: anstånd för 2026, sista dag 31 mars 2027 → 3 maj 2027 (närmaste arbetsdag)."
    )
    _, status, _ = run(capsys, "--db", initialised, "status", "--json")
    assert {r["id"]: r["next_due"] for r in json.loads(status)}["boras.mbu.polis"] == "2027-05-03"


def test_extend_to_a_date_before_the_ordinary_one_is_one_line_and_changes_nothing(
    initialised: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--db", initialised, "tick", "--now", "2026-11-24T10:00")
    code, out, err = run(
        capsys, "--db", initialised, "extend", "mbu.polis", "--period", "2026", "--due", "2027-03-15",
        "--reason", "x", "--by", "BråB", "--now", "2027-03-02T10:00",
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err.strip() == "samverkan: fel: --due: den nya sista dagen måste vara efter den ordinarie, 31 mars 2027"
    _, status, _ = run(capsys, "--db", initialised, "status", "--json")
    assert {r["id"]: r["next_due"] for r in json.loads(status)}["boras.mbu.polis"] == "2027-03-31"
