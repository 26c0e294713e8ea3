"""``samverkan gallra`` as a person runs it: its Swedish output, exit codes, and a refusal writing nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from engine.agreement import Agreement
from engine.clock import FixedClock
from samverkan.cli import main
from tests.prune_scenario import GOES, NOW, build, outbox_dump

CLOCK = FixedClock(NOW)


@pytest.fixture
def built(engine: Engine, db_url: str, boras: Agreement, tmp_path: Path) -> str:
    build(engine, boras)
    (tmp_path / "arkiv").mkdir()
    return db_url


def gallra(db_url: str, *args: str) -> int:
    return main(["gallra", "--db", db_url, *args], clock=CLOCK)


def test_a_dry_run_lists_what_would_go_per_kind_and_changes_nothing(
    built: str, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = outbox_dump(engine)
    archive = tmp_path / "arkiv" / "g.jsonl.gz"
    assert gallra(built, "--before", "2026-01-01", "--archive", str(archive), "--dry-run") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    total = len(GOES) + 1
    assert lines[0] == (
        f"Provkörning, inget ändras: {total} notiser från före 1 januari 2026 skulle flyttas till {archive}."
    )
    assert any(x.split()[:3] == ["påminnelse", "skickad", "2"] for x in (line.strip() for line in lines))
    assert any("leveransfel" in x and "20 december 2024" in x for x in lines)
    assert lines[-1].strip() == f"totalt {total} notiser, skickade eller planerade 2 december 2024 – 2 april 2025"
    assert outbox_dump(engine) == before and not archive.exists()


def test_gallra_moves_the_notices_and_a_second_run_says_there_is_nothing_left(
    built: str, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "arkiv" / "g.jsonl.gz"
    assert gallra(built, "--before", "2026-01-01", "--archive", str(archive)) == 0
    total = len(GOES) + 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        f"Gallrat: {total} notiser från före 1 januari 2026 flyttade till {archive} och borttagna ur utkorgen."
    )
    assert archive.is_file() and not set(outbox_dump(engine)) & GOES
    assert gallra(built, "--before", "2026-01-01", "--archive", str(archive)) == 0
    again = capsys.readouterr().out
    assert again.startswith(f"Arkivet {archive} fanns redan ({total} notiser); det skrivs aldrig om.")
    assert "Inget av det finns kvar i utkorgen; inget ändrat." in again


@pytest.mark.parametrize(
    ("before", "said"),
    [
        ("2026-13-01", "samverkan: fel: --before: ogiltigt datum '2026-13-01' (ÅÅÅÅ-MM-DD)"),
        ("1 jan", "samverkan: fel: --before: ogiltigt datum '1 jan' (ÅÅÅÅ-MM-DD)"),
        (
            "2026-06-02",
            "samverkan: fel: --before: 2 juni 2026 ligger efter dagens datum; gallra bara det som har varit",
        ),
    ],
)
def test_a_bad_date_is_one_swedish_line_exit_2_and_nothing_written(
    built: str, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], before: str, said: str
) -> None:
    dumped = outbox_dump(engine)
    archive = tmp_path / "arkiv" / "g.jsonl.gz"
    assert gallra(built, "--before", before, "--archive", str(archive)) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [said] and "Traceback" not in err
    assert outbox_dump(engine) == dumped and list((tmp_path / "arkiv").iterdir()) == []


def test_a_missing_folder_or_a_file_that_is_no_archive_is_refused_in_one_line(
    built: str, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dumped = outbox_dump(engine)
    missing = tmp_path / "finns-inte" / "g.jsonl.gz"
    assert gallra(built, "--before", "2026-01-01", "--archive", str(missing)) == 2
    assert capsys.readouterr().err.splitlines() == [f"samverkan: fel: --archive: mappen {missing.parent} finns inte"]
    other = tmp_path / "arkiv" / "anteckningar.txt"
    other.write_text("mina anteckningar\n", encoding="utf-8")
    assert gallra(built, "--before", "2026-01-01", "--archive", str(other)) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"samverkan: fel: --archive: {other} finns redan och är inget gallringsarkiv från samverkan; "
        "välj ett nytt filnamn"
    ]
    assert other.read_text(encoding="utf-8") == "mina anteckningar\n"
    assert outbox_dump(engine) == dumped


def test_the_help_is_swedish(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["gallra", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("användning: samverkan gallra") and "visa vad som skulle gallras" in out
