"""The command line as a person uses it: init, status, history, transition, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.cli import main
from engine.clock import FixedClock

ROOT = Path(__file__).resolve().parents[2]
BORAS = str(ROOT / "config" / "boras-2015.yaml")
CLOCK = FixedClock(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), clock=CLOCK)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def initialised(db_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    code, out, _ = run(capsys, "--db", db_url, "init", "--config", BORAS)
    assert code == 0, out
    return db_url


def test_init_loads_and_says_so_then_reports_no_change(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "init", "--db", db_url, "--config", BORAS)
    assert code == 0
    assert "4 samverkansområden, 15 insatser, 30 åtaganden" in out
    code, out, _ = run(capsys, "init", "--db", db_url, "--config", BORAS)
    assert (code, out.strip()) == (0, "Överenskommelsen 'boras' är oförändrad (planversion 1).")


def test_status_json_lists_30_commitments_with_the_stable_fields(
    initialised: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "status", "--db", initialised, "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 30
    for row in rows:
        assert {"id", "area", "effort", "party", "responsible", "state", "next_due"} <= set(row)
    mbu = next(r for r in rows if r["id"] == "boras.mbu.polis")
    assert mbu == mbu | {
        "area": "En trygg stad för alla",
        "party": "polis",
        "responsible": "kommunpolis",
        "state": "planerad",
        "next_due": "2027-03-31",  # loaded in 2026: the engine takes over from the 2026 report
    }


def test_status_filters_by_party_unit_and_ascii_state(initialised: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "status", "--db", initialised, "--json", "--party", "polis")
    assert {r["party"] for r in json.loads(out)} == {"polis"} and len(json.loads(out)) == 15
    _, out, _ = run(capsys, "status", "--db", initialised, "--json", "--unit", "fritid-folkhalsa")
    assert json.loads(out) and {r["responsible"] for r in json.loads(out)} == {"fritid-folkhalsa"}
    run(capsys, "transition", "--db", initialised, "mbu.polis", "start", "--by", "BråB", "--why", "2016")
    _, out, _ = run(capsys, "status", "--db", initialised, "--json", "--state", "pagaende")
    assert [r["id"] for r in json.loads(out)] == ["boras.mbu.polis"]


def test_status_table_is_readable(initialised: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status", "--db", initialised)
    assert code == 0
    assert "Fritids- och folkhälsoförvaltningen" in out and "MBU" in out
    assert "30 åtaganden: 28 planerad, 2 avslutad" in out  # Trafik 2016–2018 was over


def test_transition_and_history(initialised: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "transition", "--db", initialised, "mbu.kommun", "start", "--by", "BråB", "--why", "igång"
    )
    assert (code, out.strip()) == (0, "boras.mbu.kommun: planerad → pågående")
    code, out, _ = run(capsys, "history", "--db", initialised, "boras.mbu.kommun", "--json")
    assert code == 0
    assert json.loads(out) == [
        {
            "at": "2026-11-24T10:00:00+01:00",
            "trigger": "start",
            "from": "planerad",
            "to": "pågående",
            "by": "BråB",
            "why": "igång",
        }
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["transition", "mbu.kommun", "follow_up", "--by", "BråB", "--why", "x"],
            "övergången 'follow_up' är inte tillåten från tillståndet 'planerad'",
        ),
        (["transition", "mbu.kommun", "finish", "--by", "BråB", "--why", "x"], "okänd övergång 'finish'"),
        (["transition", "nope.kommun", "start", "--by", "BråB", "--why", "x"], "okänt åtagande 'nope.kommun'"),
        (["status", "--party", "region"], "--party: okänd part 'region'"),
        (["status", "--unit", "socialtjansten"], "--unit: okänd enhet 'socialtjansten'"),
        (["status", "--state", "klar"], "okänt tillstånd 'klar'"),
        (["history", "mbu"], "okänt åtagande 'mbu'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    initialised: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    _, before, _ = run(capsys, "status", "--db", initialised, "--json")
    code, _, err = run(capsys, *argv[:1], "--db", initialised, *argv[1:])
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err
    _, after, _ = run(capsys, "status", "--db", initialised, "--json")
    assert after == before


def test_a_number_below_its_only_bound_names_the_bound(initialised: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plan", "diff", "--db", initialised, "0", "1")
    assert code == 2 and err == "samverkan: fel: V1: 0 är för litet (minst 1)\n"


def test_a_missing_flag_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["transition", "mbu.kommun", "start", "--by", "BråB"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--why" in err


def test_an_uninitialised_database_is_named_not_traced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "status", "--db", f"sqlite:///{tmp_path / 'tom.db'}")
    assert code == 2 and "inte initierad" in err and len(err.strip().splitlines()) == 1


def test_an_unreachable_database_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "status", "--db", "inte-en-url")
    assert code == 2 and "ogiltig databas-URL" in err


def test_a_bad_file_at_init_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    code, _, err = run(
        capsys, "init", "--db", url, "--config", str(ROOT / "tests" / "data" / "bad" / "unknown_unit.yaml")
    )
    assert code == 2 and "unknown_unit.yaml:" in err
    assert not (tmp_path / "x.db").exists()


def test_the_console_script_uses_samverkan_db_and_defaults_to_samverkan_db_file(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "samverkan"
    env = {k: v for k, v in os.environ.items() if k != "SAMVERKAN_DB"}
    done = subprocess.run([exe, "init", "--config", BORAS], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "samverkan.db").exists()
    env["SAMVERKAN_DB"] = f"sqlite:///{tmp_path / 'annan.db'}"
    done = subprocess.run([exe, "status", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "inte initierad" in done.stderr and "Traceback" not in done.stderr
