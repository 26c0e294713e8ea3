"""A database from before issue 11 upgrades to withdrawn notices and one revision deadline (migration 0008).

The database is brought to schema 0007 and given what the engine stored then: the
revision's nominal date (2022-04-15, Good Friday) where the deadline (2022-04-19) is
kept now, an open revision with that date, and a notice in the old ``cancelled`` state.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import Engine, select, text

from engine import db
from engine.agreement import load_agreement
from engine.clock import FixedClock
from engine.models import AgreementRow, OutboxRow
from engine.plan import load_plan
from samverkan.cli import main

STHLM = ZoneInfo("Europe/Stockholm")
LITEN = Path(__file__).resolve().parents[1] / "data" / "liten.yaml"


def at(y: int, m: int, d: int, hh: int = 9) -> datetime:
    return datetime(y, m, d, hh, tzinfo=STHLM)


@pytest.fixture
def at_0007(db_url: str) -> Iterator[Engine]:
    """Schema 0007 holding the small agreement as the engine before issue 11 left it in February 2022."""
    engine = db.connect(db_url)
    cfg = db._alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0007")
        # Today's load_plan writes plan_versions.loaded_by (0011): the column stands in for the load only.
        conn.execute(text("ALTER TABLE plan_versions ADD COLUMN loaded_by TEXT"))
    with db.transaction(engine) as s:
        load_plan(s, load_agreement(LITEN), now=at(2021, 11, 1))
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE plan_versions DROP COLUMN loaded_by"))
    with engine.begin() as conn:
        # Written as SQL: the ORM's revision row has columns a later migration added (0014).
        conn.execute(
            text(
                "INSERT INTO revisions (agreement_id, number, due, opened_at, opened_by, plan_version_before)"
                " VALUES ('liten', 1, :due, :at, 'regel:revision', 1)"
            ),
            {"due": date(2022, 4, 15), "at": at(2022, 2, 18, 8)},
        )
        conn.execute(text("UPDATE agreements SET revision_due = :d"), {"d": date(2022, 4, 15)})
        # Written as SQL: the ORM's outbox row has columns a later migration added.
        conn.execute(
            text(
                "INSERT INTO outbox (key, kind, agreement_id, recipients, send_at, created_at, data, state,"
                " attempts, last_error) VALUES ('revision_overdue:liten:0:0', 'revision_overdue', 'liten',"
                " :to, :at, :at, :data, 'cancelled', 0, 'revision 0 genomförd')"
            ),
            {"to": '["bra@litenstad.example"]', "at": at(2022, 2, 1, 8), "data": '{"revision": 0}'},
        )
    yield engine
    engine.dispose()


def test_a_database_with_an_agreement_upgrades_to_withdrawn_notices_and_deadlines(at_0007: Engine) -> None:
    # On SQLite the agreements table is rebuilt while other rows refer to it (foreign keys on).
    assert db.upgrade(at_0007) is True
    assert db.current_revision(at_0007) == db.head_revision()
    with db.transaction(at_0007) as s:
        agreement = s.get(AgreementRow, "liten")
        old = s.scalars(select(OutboxRow).where(OutboxRow.key == "revision_overdue:liten:0:0")).one()
    assert agreement is not None and agreement.revision_due == date(2022, 4, 19)
    assert old.state == "withdrawn"


def test_an_open_revision_shows_the_deadline_after_the_upgrade(
    at_0007: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    url = at_0007.url.render_as_string(hide_password=False)
    assert main(["init", "--config", str(LITEN), "--db", url], clock=FixedClock(at(2022, 2, 20))) == 0
    capsys.readouterr()
    assert main(["revision", "status", "--db", url], clock=FixedClock(at(2022, 2, 20))) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("Revidering 1 pågår (sista dag 19 april 2022):")
