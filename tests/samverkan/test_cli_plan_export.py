"""`samverkan plan export` and `samverkan user list`: the plan back as a file, the users as a table.

The exported file is the agreement's portable form: `validate` accepts it and `init` with
it changes nothing, for every agreement the tests load, before and after a new plan version.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from engine import db
from engine.clock import FixedClock
from engine.models import OutboxRow, PlanVersion
from samverkan.cli import main

ROOT = Path(__file__).resolve().parents[2]
BORAS = ROOT / "config" / "boras-2015.yaml"
AGREEMENTS = [BORAS, *(ROOT / "tests" / "data" / f for f in ("minimal.yaml", "fixed_term.yaml", "liten.yaml"))]
CLOCK = FixedClock(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), clock=CLOCK)
    out, err = capsys.readouterr()
    return code, out, err


def versions(url: str) -> int:
    engine = db.connect(url)
    try:
        with db.transaction(engine) as s:
            return s.scalar(select(func.count()).select_from(PlanVersion)) or 0
    finally:
        engine.dispose()


def agreement_id(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return text.split("agreement:", 1)[1].split("id:", 1)[1].split()[0]


@pytest.mark.parametrize("config", AGREEMENTS, ids=lambda p: p.name)
def test_the_exported_plan_validates_and_init_with_it_changes_nothing(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    assert run(capsys, "init", "--db", db_url, "--config", str(config))[0] == 0
    out_file = tmp_path / "plan.yaml"
    code, out, err = run(capsys, "plan", "export", "--db", db_url, "--out", str(out_file))
    name = agreement_id(config)
    assert (code, err) == (0, "")
    assert out.strip() == f"Planversion 1 av överenskommelsen '{name}' skriven till {out_file}."
    code, out, _ = run(capsys, "validate", str(out_file))
    assert code == 0 and out.startswith(f"{out_file}: giltig – ")
    code, out, _ = run(capsys, "init", "--db", db_url, "--config", str(out_file))
    assert (code, out.strip()) == (0, f"Överenskommelsen '{name}' är oförändrad (planversion 1).")
    assert versions(db_url) == 1


def test_the_exported_file_reads_as_the_format_documents_it(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "init", "--db", db_url, "--config", str(BORAS))
    code, text, _ = run(capsys, "plan", "export", "--db", db_url)  # no --out: the terminal
    assert code == 0
    assert "name: Borås Stad\n" in text and "\\xe5" not in text and "\\u00e5" not in text  # å as å
    assert "  signed: 2015-12-14\n" in text  # a date as a date, not quoted
    assert '  send_time: "08:00"\n' in text and '    due: "03-31"\n' in text  # quoted, as the format asks
    assert "&" not in text.replace("&amp;", "") and "*id" not in text  # no anchors or aliases
    keys = [line.split(":")[0] for line in text.splitlines() if line and line[0].isalpha()]
    assert keys == ["format", "agreement", "parties", "units", "schedule", "areas"]  # the format's order
    assert text.startswith("# Överenskommelsen boras, planversion 1, ur samverkan.\n")


def test_after_a_new_plan_version_the_export_is_that_version(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "init", "--db", db_url, "--config", str(BORAS))
    edited = tmp_path / "boras-ny.yaml"
    text = BORAS.read_text(encoding="utf-8")
    assert "email: tekniska@boras.example" in text
    edited.write_text(text.replace("email: tekniska@boras.example", "email: teknik@boras.example"), encoding="utf-8")
    code, out, _ = run(capsys, "init", "--db", db_url, "--config", str(edited))
    assert code == 0 and "planversion 2" in out
    out_file = tmp_path / "export.yaml"
    assert run(capsys, "plan", "export", "--db", db_url, "--agreement", "boras", "--out", str(out_file))[0] == 0
    exported = out_file.read_text(encoding="utf-8")
    assert "email: teknik@boras.example" in exported and "tekniska@boras.example" not in exported
    assert "planversion 2" in exported.splitlines()[0]
    code, out, _ = run(capsys, "init", "--db", db_url, "--config", str(out_file))
    assert (code, out.strip()) == (0, "Överenskommelsen 'boras' är oförändrad (planversion 2).")
    assert versions(db_url) == 2


def test_export_of_an_unknown_agreement_is_one_line_exit_2_and_writes_nothing(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "init", "--db", db_url, "--config", str(BORAS))
    out_file = tmp_path / "plan.yaml"
    code, out, err = run(capsys, "plan", "export", "--db", db_url, "--agreement", "goteborg", "--out", str(out_file))
    assert (code, out) == (2, "")
    assert err == "samverkan: fel: --agreement: okänd överenskommelse 'goteborg' (finns: boras)\n"
    assert not out_file.exists() and not (tmp_path / "plan.yaml.tmp").exists()


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_user_list_shows_every_user_with_role_and_party_or_unit(
    boras_due: Engine, kit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "user", "list", "--db", url_of(boras_due), "--json")
    assert code == 0
    assert json.loads(out) == [
        {"email": kit.OWNER, "name": "Anna Andersson", "role": "owner", "party": None, "unit": None, "active": True},
        {"email": kit.POLIS, "name": "Per Polis", "role": "party", "party": "polis", "unit": None, "active": True},
        {
            "email": kit.FRITID,
            "name": "Frida Fritid",
            "role": "unit",
            "party": None,
            "unit": "fritid-folkhalsa",
            "active": True,
        },
        {"email": kit.TEKNISKA, "name": None, "role": "unit", "party": None, "unit": "tekniska", "active": True},
    ]
    code, out, _ = run(capsys, "user", "list", "--db", url_of(boras_due))
    assert code == 0
    lines = out.splitlines()
    header = next(line for line in lines if "E-post" in line)
    assert all(col in header for col in ("Namn", "Roll", "Part", "Enhet", "Status"))
    anna = next(line for line in lines if kit.OWNER in line)
    assert "Anna Andersson" in anna and "processägare" in anna
    frida = next(line for line in lines if kit.FRITID in line)
    assert "enhetskontakt" in frida and "fritid-folkhalsa" in frida
    assert lines[-1] == "4 användare."


def test_user_invite_queues_the_invitation_mail_and_user_list_shows_the_user_as_invited(
    boras_due: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["user", "invite", "Nils@Boras.example", "--db", url_of(boras_due), "--role", "unit", "--unit", "tekniska"]
    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    assert "Användaren nils@boras.example är inbjuden; inbjudan skickas med nästa utskick" in out
    # Until when, in Swedish and local time, as the web's users page says it.
    assert re.search(r"länken gäller till \d{1,2} [a-zä]+ \d{4} kl\. \d\d:\d\d\.$", out.strip()), out
    with db.transaction(boras_due) as s:
        row = s.scalars(select(OutboxRow).where(OutboxRow.kind == "invite")).one()
        assert (row.recipients, row.state) == (["nils@boras.example"], "pending")
        assert row.data["by"] == "samverkan user invite"
    code, out, _ = run(capsys, "user", "list", "--db", url_of(boras_due))
    nils = next(line for line in out.splitlines() if "nils@boras.example" in line)
    assert "inbjuden" in nils
    code, out, err = run(capsys, *argv)
    assert code == 2 and "E-POST: användaren nils@boras.example finns redan" in err


def test_user_list_shows_a_name_as_written_not_as_terminal_markup(
    boras_due: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMVERKAN_PASSWORD", "ett långt lösenord")
    name = "[link=https://evil.example]Klicka[/link] [bold]Bo[/bold]"
    argv = ["user", "add", "bo@boras.example", "--db", url_of(boras_due), "--role", "owner", "--name", name]
    assert run(capsys, *argv)[0] == 0
    code, out, _ = run(capsys, "user", "list", "--db", url_of(boras_due))
    assert code == 0 and "[link=https://evil.example]Klicka[/link]" in out.replace("\n", "")
    assert "\x1b]8;" not in out  # no terminal hyperlink


def test_user_list_without_users_says_so(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "init", "--db", db_url, "--config", str(BORAS))
    code, out, _ = run(capsys, "user", "list", "--db", db_url)
    assert (code, out) == (0, "Inga användare. Skapa en med 'samverkan user add'.\n")
