"""Gallring of the outbox (engine.prune through engine.api.commands_outbox), on SQLite and PostgreSQL.

The scenario (tests/prune_scenario.py) holds one notice per case; a gallring before
1 January 2026, run on 1 June 2026, must take exactly ``GOES`` and the old revision's
kick-off, write them whole to the archive, and touch nothing else.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from engine.agreement import Agreement
from engine.api import commands_outbox
from rules.errors import InvalidValue
from tests.prune_scenario import BEFORE, GOES, NOW, at, build, outbox_dump, record_dump

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scenario(engine: Engine, boras: Agreement) -> dict[str, str]:
    return build(engine, boras)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The archive's folder (the SQLite database is in tmp_path itself)."""
    made = tmp_path / "arkiv"
    made.mkdir()
    return made


def archived(path: Path) -> dict[str, dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    assert len({r["key"] for r in rows}) == len(rows), "a notice archived twice"
    return {r["key"]: r for r in rows}


class Boom(Exception):
    pass


def fail_at(point: str) -> Any:
    def drill(at_point: str) -> None:
        if at_point == point:
            raise Boom(point)

    return drill


def test_the_archive_holds_exactly_what_was_deleted_every_column(
    engine: Engine, scenario: dict[str, str], folder: Path
) -> None:
    before = outbox_dump(engine)
    archive = folder / "gallring.jsonl.gz"
    # Batches of two: several DELETE … RETURNING statements in the one transaction.
    done = commands_outbox.prune_outbox(engine, before=BEFORE, archive=archive, now=NOW, batch=2)
    after = outbox_dump(engine)
    deleted = {k: v for k, v in before.items() if k not in after}
    assert set(deleted) == GOES | {scenario["old"]}
    assert archived(archive) == deleted
    assert done.removed == done.archived == done.total == len(deleted) and done.wrote and not done.resumed
    # What stayed is unchanged in every column.
    assert after == {k: v for k, v in before.items() if k in after}


def test_pending_sending_held_unshown_and_still_askable_notices_stay(
    engine: Engine, scenario: dict[str, str], folder: Path
) -> None:
    commands_outbox.prune_outbox(engine, before=BEFORE, archive=folder / "a.jsonl.gz", now=NOW)
    left = outbox_dump(engine)
    states = {v["state"] for v in left.values()}
    assert {"pending", "sending", "held"} <= states
    assert "reminder:boras.mbu.polis:2024:0" in left  # failed, and nobody was told
    assert "escalation:boras.mbu.kommun:2024" in left  # its period is open: the rule asks for it again
    assert scenario["current"] in left  # the current revision's kick-off is asked for until it is done
    assert "reminder:boras.mbu.polis:2025:-30" in left  # after the date
    assert "change_notice:boras:2" in left  # due before the date, sent after it
    assert any(k.startswith("deviation:") for k in left)  # a correction asks for its key again


def test_the_agreements_record_is_never_touched(engine: Engine, scenario: dict[str, str], folder: Path) -> None:
    record = record_dump(engine)
    assert record["transition_log"] and record["follow_ups"]
    commands_outbox.prune_outbox(engine, before=BEFORE, archive=folder / "a.jsonl.gz", now=NOW)
    assert record_dump(engine) == record


def test_a_dry_run_says_what_would_go_and_changes_nothing(
    engine: Engine, scenario: dict[str, str], folder: Path
) -> None:
    before, record = outbox_dump(engine), record_dump(engine)
    archive = folder / "a.jsonl.gz"
    dry = commands_outbox.prune_outbox(engine, before=BEFORE, archive=archive, now=NOW, dry_run=True)
    assert outbox_dump(engine) == before and record_dump(engine) == record
    assert not archive.exists() and list(folder.iterdir()) == []
    real = commands_outbox.prune_outbox(engine, before=BEFORE, archive=archive, now=NOW)
    assert dry.gone == real.gone and dry.total == len(GOES) + 1 and dry.removed == 0
    by = {(g.kind, g.state): g.count for g in dry.gone}
    assert by[("reminder", "sent")] == 2 and by[("reminder", "failed")] == 1 and by[("overdue", "withdrawn")] == 1
    first = min(g.first for g in dry.gone)
    assert first == at(2024, 12, 2)


def test_a_rerun_after_success_changes_nothing(engine: Engine, scenario: dict[str, str], folder: Path) -> None:
    archive = folder / "a.jsonl.gz"
    commands_outbox.prune_outbox(engine, before=BEFORE, archive=archive, now=NOW)
    written, left = archive.read_bytes(), outbox_dump(engine)
    again = commands_outbox.prune_outbox(engine, before=BEFORE, archive=archive, now=NOW)
    assert again.resumed and again.removed == 0 and again.archived == len(GOES) + 1
    assert archive.read_bytes() == written and outbox_dump(engine) == left


def test_a_crash_after_the_archive_is_written_loses_nothing_and_the_rerun_completes_it(
    engine: Engine, scenario: dict[str, str], folder: Path
) -> None:
    before = outbox_dump(engine)
    archive = folder / "a.jsonl.gz"
    with pytest.raises(Boom):
        commands_outbox.prune_outbox(engine, before=BEFORE, archive=archive, now=NOW, drill=fail_at("archived"))
    # The archive is on disk, the delete was rolled back: every row is in both.
    assert outbox_dump(engine) == before
    written = archive.read_bytes()
    assert set(archived(archive)) == GOES | {scenario["old"]}
    done = commands_outbox.prune_outbox(engine, before=BEFORE, archive=archive, now=NOW)
    assert done.resumed and done.removed == len(GOES) + 1
    after = outbox_dump(engine)
    assert archived(archive) == {k: v for k, v in before.items() if k not in after}
    assert archive.read_bytes() == written  # never appended to: nothing archived twice
    assert [p.name for p in folder.iterdir()] == [archive.name]


def test_a_crash_before_the_archive_exists_leaves_neither_archive_nor_deletion(
    engine: Engine, scenario: dict[str, str], folder: Path
) -> None:
    before = outbox_dump(engine)
    archive = folder / "a.jsonl.gz"
    with pytest.raises(Boom):
        commands_outbox.prune_outbox(engine, before=BEFORE, archive=archive, now=NOW, drill=fail_at("written"))
    assert outbox_dump(engine) == before and list(folder.iterdir()) == []


def test_a_process_killed_between_archive_and_commit_loses_nothing(
    engine: Engine, db_url: str, scenario: dict[str, str], folder: Path
) -> None:
    before = outbox_dump(engine)
    archive = folder / "a.jsonl.gz"
    engine.dispose()  # the child holds the only connection that writes
    # The process dies at once (os._exit: no rollback, no cleanup), as with SIGKILL or a power cut.
    script = textwrap.dedent(
        f"""
        import os
        from datetime import date, datetime
        from pathlib import Path
        from engine import db
        from engine.api import commands_outbox

        def die(point):
            if point == "archived":
                os._exit(9)

        commands_outbox.prune_outbox(
            db.connect({db_url!r}), before=date.fromisoformat({BEFORE.isoformat()!r}),
            archive=Path({str(archive)!r}), now=datetime.fromisoformat({NOW.isoformat()!r}), drill=die,
        )
        """
    )
    child = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert child.returncode == 9, child.stderr
    assert outbox_dump(engine) == before
    assert set(archived(archive)) == GOES | {scenario["old"]}
    done = commands_outbox.prune_outbox(engine, before=BEFORE, archive=archive, now=NOW)
    assert done.resumed and done.removed == len(GOES) + 1
    after = outbox_dump(engine)
    assert archived(archive) == {k: v for k, v in before.items() if k not in after}


def test_an_existing_file_that_is_no_archive_is_refused_untouched(
    engine: Engine, scenario: dict[str, str], folder: Path
) -> None:
    before = outbox_dump(engine)
    for name, content in (("plain.txt", b"hej\n"), ("other.jsonl.gz", gzip.compress(b'{"a": 1}\n'))):
        target = folder / name
        target.write_bytes(content)
        with pytest.raises(InvalidValue, match="inget gallringsarkiv"):
            commands_outbox.prune_outbox(engine, before=BEFORE, archive=target, now=NOW)
        assert target.read_bytes() == content
    assert outbox_dump(engine) == before


def test_a_date_after_today_is_refused(engine: Engine, scenario: dict[str, str], folder: Path) -> None:
    with pytest.raises(InvalidValue, match="ligger efter dagens datum"):
        commands_outbox.prune_outbox(engine, before=NOW.date().replace(year=2027), archive=folder / "a", now=NOW)
    assert list(folder.iterdir()) == []


def test_a_weeks_summary_stays_until_its_week_is_over(engine: Engine, boras: Agreement, folder: Path) -> None:
    build(engine, boras)  # the summary of week 10 went on Monday 3 March 2025

    def kinds(now: Any) -> set[str]:
        dry = commands_outbox.prune_outbox(engine, before=now.date(), archive=folder / "a", now=now, dry_run=True)
        return {g.kind for g in dry.gone}

    assert "weekly_summary" not in kinds(at(2025, 3, 6))  # the rule may still ask for this week's key
    assert "weekly_summary" in kinds(at(2025, 3, 12))


@pytest.mark.parametrize(
    ("key", "sent", "window"),
    [
        # Borås: reminders 30 and 7 days before and on the day; overdue notices every 14 days.
        ("reminder:boras.mbu.kommun:2024:-30", at(2024, 12, 2), 30 + 12),
        ("overdue:boras.mbu.kommun:2024:2", at(2025, 3, 17), 14 + 12),
    ],
)
def test_a_notice_of_a_period_still_open_stays_while_the_rule_may_ask_for_it(
    engine: Engine, boras: Agreement, folder: Path, key: str, sent: Any, window: int
) -> None:
    build(engine, boras)  # mbu.kommun never reports 2024

    def goes(now: Any) -> bool:
        archive = folder / f"{now:%Y%m%d}.jsonl.gz"
        commands_outbox.prune_outbox(engine, before=now.date(), archive=archive, now=now)
        return archive.exists() and key in archived(archive)

    assert not goes(sent + timedelta(days=window - 1))
    assert goes(sent + timedelta(days=window + 1))


@pytest.mark.skipif(shutil.which("zcat") is None, reason="zcat saknas")
def test_the_archive_reads_without_the_program(engine: Engine, scenario: dict[str, str], folder: Path) -> None:
    archive = folder / "a.jsonl.gz"
    commands_outbox.prune_outbox(engine, before=BEFORE, archive=archive, now=NOW)
    shown = subprocess.run(f"zcat {archive} | head -3", shell=True, capture_output=True, text=True, check=True).stdout
    lines = shown.splitlines()
    assert len(lines) == 3 and all(json.loads(x)["state"] in ("sent", "withdrawn", "failed") for x in lines)
    assert "påminnelse" not in shown and "fritid@boras.example" in shown  # the stored words, not translations
