"""The command line as a person uses it: init, status, history, transition, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import db
from engine.clock import FixedClock
from engine.models import AgreementRow, Base, OutboxRow, PartyEvent, PlanVersion
from samverkan.cli import main

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


# -- rehearsal: --now on the commands that record something ---------------------------


def snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table: what "nothing written" is checked against."""
    engine = db.connect(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: sorted((tuple(r) for r in conn.execute(select(t))), key=repr)
                for t in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def test_a_life_of_the_agreement_is_rehearsed_at_the_given_instants(
    db_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the mail goes to ./outbox
    code, out, _ = run(capsys, "init", "--db", db_url, "--config", BORAS, "--now", "2016-01-04T09:00")
    assert code == 0
    took_over = "Motorn tar över från 4 januari 2016: första uppföljning som bevakas gäller 2016 (senast 31 mars 2017)"
    assert took_over in out
    argv = ["mbu.kommun", "start", "--by", "BråB", "--why", "igång", "--now", "2016-02-01T10:00"]
    assert run(capsys, "transition", "--db", db_url, *argv)[0] == 0
    code, out, _ = run(capsys, "notify-change", "--db", db_url, *REHEARSING[1][1:], "--now", "2016-03-01T10:00")
    assert code == 0 and "1 skickade" in out
    # 30 June 2016 has passed by the test's clock (2026), not on the rehearsed day.
    argv = ["--party", "kommun", "--effective", "2016-06-30", "--reason", "Ny", "--now", "2016-04-01T10:00"]
    code, out, err = run(capsys, "terminate", "--db", db_url, *argv)
    assert code == 0, err
    assert "1 skickade" in out
    assert run(capsys, "tick", "--db", db_url, "--now", "2016-06-30T08:00")[0] == 0

    code, out, _ = run(capsys, "history", "--db", db_url, "boras.mbu.kommun", "--json")
    history = json.loads(out)
    assert (history[0]["at"], history[0]["trigger"]) == ("2016-02-01T10:00:00+01:00", "start")
    assert history[-1]["trigger"] == "end" and history[-1]["at"].startswith("2016-06-30")

    at = datetime.fromisoformat
    engine = db.connect(db_url)
    with db.transaction(engine) as s:
        agreement = s.get(AgreementRow, "boras")
        assert agreement is not None and agreement.loaded_at == at("2016-01-04T09:00+01:00")
        assert s.scalars(select(PlanVersion.loaded_at)).one() == at("2016-01-04T09:00+01:00")
        events = {e.kind: e.recorded_at for e in s.scalars(select(PartyEvent))}
        assert events == {
            "change": at("2016-03-01T10:00+01:00"),
            "termination": at("2016-04-01T10:00+02:00"),
        }
        mails = {r.kind: (r.created_at, r.send_at, r.sent_at) for r in s.scalars(select(OutboxRow))}
        assert mails["change_notice"] == (at("2016-03-01T10:00+01:00"),) * 3
        assert mails["termination_notice"] == (at("2016-04-01T10:00+02:00"),) * 3
    engine.dispose()


REHEARSING = [
    ["transition", "mbu.kommun", "start", "--by", "BråB", "--why", "igång"],
    ["notify-change", "--party", "polis", "--text", "Omorganisation."],
    ["terminate", "--party", "kommun", "--effective", "2027-06-30", "--reason", "Ny överenskommelse"],
    ["init", "--config", BORAS],  # a second init on the same database
]


@pytest.mark.parametrize("argv", REHEARSING, ids=lambda a: a[0])
@pytest.mark.parametrize("bad", ["i morgon", "2016-02-30T09:00"])
def test_a_bad_now_is_one_line_exit_2_and_writes_nothing(
    initialised: str, capsys: pytest.CaptureFixture[str], argv: list[str], bad: str
) -> None:
    before = snapshot(initialised)
    code, _, err = run(capsys, argv[0], "--db", initialised, *argv[1:], "--now", bad)
    assert code == 2
    assert err == f"samverkan: fel: --now: ogiltig tidpunkt '{bad}' (ISO 8601, t.ex. 2027-03-01T08:00+01:00)\n"
    assert snapshot(initialised) == before


def test_a_bad_now_at_the_first_init_creates_no_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "init", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--config", BORAS, "--now", "snart")
    assert code == 2 and "--now: ogiltig tidpunkt 'snart'" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.db").exists()


def test_a_termination_is_checked_against_the_rehearsed_day(
    initialised: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(initialised)
    argv = ["--party", "kommun", "--effective", "2027-06-30", "--reason", "Ny", "--now", "2027-07-01T09:00"]
    code, _, err = run(capsys, "terminate", "--db", initialised, *argv)
    assert code == 2 and err == "samverkan: fel: --effective: 30 juni 2027 har redan passerat\n"
    assert snapshot(initialised) == before


@pytest.mark.parametrize("argv", REHEARSING[1:3], ids=lambda a: a[0])
def test_a_bad_settings_file_refuses_the_event_before_it_is_recorded(
    initialised: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text("mailer: brevduva\n", encoding="utf-8")
    before = snapshot(initialised)
    code, _, err = run(capsys, argv[0], "--db", initialised, *argv[1:], "--settings", str(bad))
    assert code == 2 and len(err.splitlines()) == 1 and "mailer" in err
    assert snapshot(initialised) == before


def test_times_typed_and_shown_are_in_the_agreements_own_zone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    minimal = (ROOT / "tests" / "data" / "minimal.yaml").read_text(encoding="utf-8")
    path = tmp_path / "helsinki.yaml"
    path.write_text(minimal.replace("timezone: Europe/Stockholm", "timezone: Europe/Helsinki"), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'helsinki.db'}"
    assert run(capsys, "init", "--db", url, "--config", str(path), "--now", "2020-01-10T09:00")[0] == 0
    cid = "exempel.vandringar.kommun"
    argv = ["transition", cid, "end", "--by", "Anna", "--why", "Slut", "--db", url, "--now", "2020-06-01T10:00"]
    assert run(capsys, *argv)[0] == 0
    code, out, _ = run(capsys, "history", cid, "--json", "--db", url)
    assert code == 0 and json.loads(out)[-1]["at"] == "2020-06-01T10:00:00+03:00"  # Helsinki summer time
    code, out, _ = run(capsys, "history", cid, "--db", url)
    assert "2020-06-01T10:00:00+03:00  " in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["outbox", "--state", "nonsense"], "--state: ogiltigt val 'nonsense' (giltiga: 'pending', 'sending'"),
        (["followup", "mbu.polis"], "saknas: --period, --comment, --by"),
        (["status", "--bogus"], "okända argument: --bogus"),
        (["tick", "--now"], "--now: ett värde saknas"),
    ],
)
def test_a_usage_error_is_one_swedish_line_and_exit_2(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and len(err.strip().splitlines()) == 1
    assert expected in err and "invalid" not in err and "OutboxState" not in err


# argparse's own words (Python ships no Swedish catalogue): none may reach a person.
ARGPARSE_ENGLISH = ("usage:", "options:", "positional arguments", "show this help message", "optional arguments")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--help"], ("användning: samverkan", "alternativ:", "argument:", "visa den här hjälpen och avsluta")),
        (["followup", "--help"], ("användning: samverkan followup", "ÅTAGANDE", "--period ÅR", "alternativ:")),
        (["revision", "start", "--help"], ("användning: samverkan revision start", "alternativ:")),
    ],
)
def test_the_help_is_wholly_swedish(
    argv: list[str], expected: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    out = capsys.readouterr().out
    assert stopped.value.code == 0
    assert all(text in out for text in expected), out
    assert not any(text in out.lower() for text in ARGPARSE_ENGLISH), out


def test_a_usage_error_names_the_usage_in_swedish(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["history"])
    err = capsys.readouterr().err
    assert "samverkan history: fel: saknas: ÅTAGANDE" in err
    assert not any(text in err.lower() for text in ARGPARSE_ENGLISH) and "error" not in err
