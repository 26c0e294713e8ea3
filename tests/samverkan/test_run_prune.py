"""``run``'s nightly gallring: only with ``outbox_keep_days`` set, at 04:00 local, into a file named by date."""

from __future__ import annotations

import gzip
import json
import logging
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import Engine

from engine.agreement import Agreement
from engine.clock import FixedClock
from notifications.settings import Settings, load_settings
from rules.errors import InvalidValue
from samverkan import run as runner
from samverkan.cli import main
from tests.prune_scenario import BEFORE, GOES, NOW, STHLM, build, outbox_dump

# Run on the afternoon of 1 June 2026; the night's gallring is due at 04:00 on 2 June.
NIGHT = datetime(2026, 6, 2, 4, 30, tzinfo=STHLM)
# Keeping this many days on 2 June 2026 gallrar what is from before 1 January 2026, as the scenario expects.
KEEP = (date(2026, 6, 2) - BEFORE).days


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    made = tmp_path / "gallrat"
    made.mkdir()
    return made


def settings(tmp_path: Path, folder: Path | None) -> Settings:
    keep = {"outbox_keep_days": KEEP, "outbox_archive_dir": folder} if folder is not None else {}
    return Settings(mail_dir=tmp_path / "mail", **keep)  # type: ignore[arg-type]


def test_the_nightly_gallring_runs_with_the_setting_into_the_days_file(
    engine: Engine, boras: Agreement, tmp_path: Path, folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    build(engine, boras)
    chosen = settings(tmp_path, folder)
    night = runner.nightly_for(chosen, NOW)
    assert night is not None and night.due == datetime(2026, 6, 2, 4, 0, tzinfo=STHLM)
    scheduler = BlockingScheduler(timezone=runner.ZONE)  # never started: the successor stays pending
    # In the evening nothing is pruned yet.
    runner.wake(engine, FixedClock(datetime(2026, 6, 1, 22, 0, tzinfo=STHLM)), scheduler, chosen, night=night)
    assert set(outbox_dump(engine)) >= GOES and list(folder.iterdir()) == []
    (evening,) = scheduler.get_jobs()
    assert evening.kwargs["night"] is night
    evening.remove()
    caplog.set_level(logging.INFO, logger="samverkan.run")
    runner.wake(engine, FixedClock(NIGHT), scheduler, chosen, night=night)
    archive = folder / "gallring-2026-06-02.jsonl.gz"
    with gzip.open(archive, "rt", encoding="utf-8") as f:
        keys = {json.loads(line)["key"] for line in f}
    assert keys >= GOES and not keys & set(outbox_dump(engine))
    assert f"gallrade {len(keys)} notiser från före 1 januari 2026 till {archive}" in caplog.text
    assert night.due == datetime(2026, 6, 3, 4, 0, tzinfo=STHLM)
    # A second wake-up the same night does nothing more.
    runner.wake(engine, FixedClock(NIGHT + timedelta(hours=1)), scheduler, chosen, night=night)
    assert [p.name for p in folder.iterdir()] == [archive.name]


def test_without_the_setting_run_never_gallrar(engine: Engine, boras: Agreement, tmp_path: Path) -> None:
    build(engine, boras)
    chosen = settings(tmp_path, None)
    assert runner.nightly_for(chosen, NOW) is None
    scheduler = BlockingScheduler(timezone=runner.ZONE)
    runner.wake(engine, FixedClock(NIGHT), scheduler, chosen)
    assert set(outbox_dump(engine)) >= GOES
    (job,) = scheduler.get_jobs()
    assert job.kwargs["night"] is None


def test_the_next_wake_up_is_no_later_than_the_nights_gallring(engine: Engine, folder: Path, tmp_path: Path) -> None:
    night = runner.nightly_for(settings(tmp_path, folder), NOW)
    assert night is not None
    assert runner.next_run(engine, NOW, timedelta(minutes=10), night) == night.due
    assert runner.next_run(engine, NOW, timedelta(minutes=10)) == NOW + runner.AT_LEAST


@pytest.mark.parametrize(
    ("now", "night"),
    [
        # Summer time begins at 02:00 on 29 March 2026 and ends at 03:00 on 25 October 2026.
        (datetime(2026, 3, 28, 23, 0, tzinfo=STHLM), datetime(2026, 3, 29, 4, 0, tzinfo=STHLM)),
        (datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=STHLM), datetime(2026, 10, 25, 4, 0, tzinfo=STHLM)),
        (datetime(2026, 10, 25, 4, 0, tzinfo=STHLM), datetime(2026, 10, 26, 4, 0, tzinfo=STHLM)),
    ],
)
def test_the_night_is_four_oclock_local_on_every_day(now: datetime, night: datetime) -> None:
    assert runner.next_night(now) == night
    assert runner.next_night(now).utcoffset() == night.utcoffset()


def test_keep_days_without_a_folder_is_refused_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("mailer: file\noutbox_keep_days: 365\n", encoding="utf-8")
    with pytest.raises(InvalidValue) as refused:
        load_settings(path)
    assert refused.value.field == f"{path}:2"
    assert "kräver outbox_archive_dir" in refused.value.message
    path.write_text(f"outbox_keep_days: 365\noutbox_archive_dir: {tmp_path}\n", encoding="utf-8")
    assert load_settings(path).outbox_keep_days == 365


def test_run_with_a_missing_archive_folder_does_not_start(
    engine: Engine, db_url: str, boras: Agreement, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build(engine, boras)
    path = tmp_path / "settings.yaml"
    path.write_text(f"outbox_keep_days: 365\noutbox_archive_dir: {tmp_path / 'saknas'}\n", encoding="utf-8")
    assert main(["run", "--db", db_url, "--settings", str(path)], clock=FixedClock(NOW)) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"samverkan: fel: inställningen outbox_archive_dir: mappen {tmp_path / 'saknas'} finns inte"
    ]
