"""`samverkan import` as a person runs it: the draft written, then loaded with init and simulated;
bad input is one Swedish line, exit 2, and no draft file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.clock import FixedClock
from samverkan.cli import main
from tests.engine.importer_docs import exempelby_docx

ROOT = Path(__file__).resolve().parents[2]
SEED = str(ROOT / "tests" / "data" / "import" / "boras-2015.txt")
CLOCK = FixedClock(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), clock=CLOCK)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_seeds_draft_with_its_addresses_filled_in_loads_with_init_and_simulates_a_decade(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = tmp_path / "utkast.yaml"
    code, out, _ = run(capsys, "import", SEED, "--out", str(draft))
    assert code == 0 and "Utkast: 4 samverkansområden, 15 insatser, 30 åtaganden, 9 enheter." in out
    assert f"Utkastet är skrivet till {draft}" in out
    assert run(capsys, "validate", str(draft))[0] == 0
    # What the owner does with each TODO: the placeholder addresses become real ones.
    text = draft.read_text(encoding="utf-8")
    assert text.count("# TODO") == 9
    filled = tmp_path / "boras.yaml"
    filled.write_text(text.replace("@boras.example", "@boras.se").replace("@polisen.example", "@polisen.se"), "utf-8")
    code, out, err = run(capsys, "--db", db_url, "init", "--config", str(filled), "--now", "2016-01-04T09:00")
    assert code == 0, err
    assert "Överenskommelsen 'boras' inläst" in out and "30 åtaganden" in out
    code, out, err = run(capsys, "simulate", "--config", str(filled), "--from", "2016-01-01", "--to", "2025-12-31")
    assert code == 0, err
    kickoffs = [line[:4] for line in out.splitlines()[:-1] if "revideringsstart" in line]
    assert kickoffs == ["2018", "2021", "2024"]  # "ungefär vart tredje år" from 14 December 2015
    reminders = [line for line in out.splitlines() if "påminnelse" in line and "uppföljning" in line]
    assert reminders and all("@boras.se" in line or "@polisen.se" in line for line in reminders)
    assert "3 revideringsstart" in out.splitlines()[-1]


def test_without_out_the_draft_goes_to_stdout_and_the_summary_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    word = tmp_path / "exempelby.docx"
    word.write_bytes(exempelby_docx())
    code, out, err = run(capsys, "import", str(word), "--id", "exby")
    assert code == 0
    assert out.startswith("# Utkast till överenskommelsefil ur exempelby.docx") and "  id: exby\n" in out
    assert "valid_to: 2027-12-31" in out
    assert err.startswith("Utkast: 3 samverkansområden, 5 insatser, 8 åtaganden")


@pytest.mark.parametrize(
    ("content", "name", "said"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "overenskommelse.docx", "är inget Word-dokument"),
        (b"", "tom.txt", "filen är tom"),
        ("Samverkansöverenskommelse\n\nBara text.\n".encode(), "utan-plan.txt", "hittar ingen åtagandeplan"),
    ],
)
def test_bad_input_is_one_swedish_line_exit_2_and_no_draft_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, name: str, said: str
) -> None:
    source = tmp_path / name
    source.write_bytes(content)
    draft = tmp_path / "utkast.yaml"
    code, out, err = run(capsys, "import", str(source), "--out", str(draft))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"samverkan: fel: {source}: {said}")
    assert not draft.exists() and sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_missing_file_and_a_bad_id_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "import", str(tmp_path / "finns-inte.docx"))
    assert code == 2 and err == f"samverkan: fel: {tmp_path / 'finns-inte.docx'}: finns inte\n"
    code, _, err = run(capsys, "import", SEED, "--id", "Borås")
    assert code == 2 and err.startswith("samverkan: fel: --id: ogiltigt id 'Borås'")
