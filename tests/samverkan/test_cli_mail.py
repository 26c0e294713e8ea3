"""The mail commands as a person runs them: run, deliver, outbox, notify-change, terminate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from icalendar import Calendar

from engine.clock import FixedClock
from samverkan.cli import main

ROOT = Path(__file__).resolve().parents[2]
BORAS = str(ROOT / "config" / "boras-2015.yaml")
EXE = Path(sys.executable).parent / "samverkan"
NOV = FixedClock(datetime(2026, 11, 24, 9, tzinfo=UTC))


@pytest.fixture
def initialised(db_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["init", "--db", db_url, "--config", BORAS], clock=NOV) == 0
    assert main(["tick", "--db", db_url, "--now", "2026-11-24T10:00"]) == 0
    capsys.readouterr()
    return db_url


def smtp_settings(tmp_path: Path, port: int) -> str:
    path = tmp_path / "settings.yaml"
    path.write_text(
        f"mailer: smtp\nsender: samverkan@boras.example\nsender_name: BråB Samverkan\n"
        f"smtp:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n",
        encoding="utf-8",
    )
    return str(path)


def test_run_from_a_rehearsal_date_delivers_the_boras_reminders_by_smtp(  # type: ignore[no-untyped-def]
    initialised: str, tmp_path: Path, smtp_server, read_until
) -> None:
    settings = smtp_settings(tmp_path, smtp_server.port)
    proc = subprocess.Popen(
        [EXE, "run", "--db", initialised, "--settings", settings, "--from", "2027-03-01T08:00"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        seen = read_until(proc, "nästa uppvaknande")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "28 nya notiser; 28 skickade i 8 e-postmeddelanden" in seen
    assert proc.returncode == 0
    received = smtp_server.sink.received
    assert len(received) == 8  # one per address
    assert "14 uppföljningar att lämna – den första senast 31 mars 2027" in {
        str(r.message["Subject"]) for r in received
    }
    for r in received:
        (ics,) = [p for p in r.message.iter_attachments() if p.get_content_type() == "text/calendar"]
        assert "20270331" in ics.get_content()
        assert Calendar.from_ical(ics.get_content())


def test_deliver_writes_eml_files_and_outbox_shows_them_sent(
    initialised: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["tick", "--db", initialised, "--now", "2027-03-01T08:00"]) == 0
    assert main(["deliver", "--db", initialised, "--now", "2027-03-01T08:00"]) == 0
    assert "28 skickade i 8 e-postmeddelanden till outbox/" in capsys.readouterr().out
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 8
    assert main(["outbox", "--db", initialised, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 28 and {r["state"] for r in rows} == {"sent"}
    assert all(r["message_id"].startswith("<") for r in rows)


def test_notify_change_records_and_sends_at_once(
    initialised: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["notify-change", "--db", initialised, "--party", "kommun", "--text", "Budgeten för MBU dras in 2027."]
    assert main([*argv, "--commitment", "mbu.kommun"], clock=NOV) == 0
    out = capsys.readouterr().out
    assert "flaggade inför revideringen: boras.mbu.kommun" in out and "1 skickade" in out
    (eml,) = (tmp_path / "outbox").glob("change_notice-*.eml")
    assert "kommunpolis@polisen.example" in eml.read_text(encoding="utf-8")
    # The review names the party and says the day in prose, as the flag reads on the web and in the table.
    assert main(["overdue", "--db", initialised, "--now", "2026-11-25T10:00", "--json"], clock=NOV) == 0
    (flag,) = json.loads(capsys.readouterr().out)["flagged"]
    assert flag["party_name"] == "Borås Stad"
    assert flag["reason"] == "ändrade förutsättningar (Borås Stad, 24 november 2026): Budgeten för MBU dras in 2027."


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["notify-change", "--party", "region", "--text", "x"], "--party: okänd part 'region'"),
        (["notify-change", "--party", "kommun", "--text", "  "], "--text: får inte vara tomt"),
        (["notify-change", "--party", "kommun", "--text", "x", "--commitment", "nej"], "okänt åtagande 'nej'"),
        (["terminate", "--party", "polis", "--effective", "2026-01-01", "--reason", "x"], "har redan passerat"),
        (["terminate", "--party", "polis", "--effective", "snart", "--reason", "x"], "ogiltigt datum 'snart'"),
        (["deliver", "--now", "i morgon"], "--now: ogiltig tidpunkt"),
    ],
)
def test_bad_input_to_the_mail_commands_is_one_line_exit_2_and_writes_nothing(
    initialised: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    main(["outbox", "--db", initialised, "--json"])
    before = capsys.readouterr().out
    assert main([argv[0], "--db", initialised, *argv[1:]], clock=NOV) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err
    main(["outbox", "--db", initialised, "--json"])
    assert capsys.readouterr().out == before


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("mailer: brevduva\n", 1, "mailer: ogiltigt värde 'brevduva'"),
        ("mailer: file\ndigest: ja\n", 2, "digest: ska vara true eller false"),
        ("agreements:\n  boras:\n    sender: inte-en-adress\n", 3, "ogiltig e-postadress 'inte-en-adress'"),
        ("agreements:\n  boras:\n    from: x@y.example\n", 3, "okänd nyckel 'from'"),
    ],
)
def test_a_bad_settings_file_is_one_swedish_line_on_its_line(
    initialised: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, message: str
) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text(text, encoding="utf-8")
    assert main(["deliver", "--db", initialised, "--settings", str(bad)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"{bad}:{line}: " in err and message in err
