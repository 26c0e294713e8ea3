"""The one door's read models: frozen values from a transaction of their own, instants in the agreement's zone."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, update

from engine import db
from engine.agreement import Agreement, load_agreement
from engine.api import commands, commands_users, queries
from engine.models import OutboxRow
from engine.tick import tick
from rules.errors import InvalidValue
from rules.texts import DEFAULT_ZONE

STHLM = ZoneInfo("Europe/Stockholm")
HELSINKI = ZoneInfo("Europe/Helsinki")
MINIMAL = Path(__file__).resolve().parents[2] / "data" / "minimal.yaml"


def at(y: int, m: int, d: int, hh: int = 10) -> datetime:
    return datetime(y, m, d, hh, tzinfo=STHLM)


@pytest.fixture
def running(engine: Engine, boras: Agreement) -> Engine:
    commands.load_plan(engine, boras, now=at(2026, 11, 24))
    tick(engine, at(2026, 11, 24))
    return engine


@pytest.fixture
def helsinki(tmp_path: Path) -> Agreement:
    """The minimal agreement, kept in Helsinki time."""
    text = MINIMAL.read_text(encoding="utf-8").replace("timezone: Europe/Stockholm", "timezone: Europe/Helsinki")
    path = tmp_path / "helsinki.yaml"
    path.write_text(text, encoding="utf-8")
    return load_agreement(path)


def test_status_is_frozen_rows_filtered_by_party_and_an_unknown_party_names_its_field(loaded: Engine) -> None:
    rows = queries.status(loaded, party="polis")
    assert rows and {r.party for r in rows} == {"polis"}
    assert len(queries.status(loaded)) > len(rows)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rows[0].state = "avslutad"  # type: ignore[misc]
    with pytest.raises(InvalidValue) as refused:
        queries.status(loaded, party="skolan")
    assert refused.value.field == "party"


def test_history_gives_each_move_in_the_agreements_zone(running: Engine) -> None:
    commands.transition(running, "mbu.polis", "end", by="Anna", why="Insatsen upphör", now=at(2027, 1, 5))
    shown = queries.history(running, "mbu.polis")
    assert (shown.commitment, shown.state) == ("boras.mbu.polis", "avslutad")
    last = shown.moves[-1]
    assert (last.trigger, last.to_state, last.by, last.why) == ("end", "avslutad", "Anna", "Insatsen upphör")
    assert last.at == at(2027, 1, 5) and last.at.tzinfo == STHLM


def test_the_outbox_lists_notices_in_send_order_and_by_state(running: Engine) -> None:
    assert tick(running, at(2027, 3, 1, 8)).notices == 28
    notices = queries.outbox(running)
    assert len(notices) == 28 and [n.send_at for n in notices] == sorted(n.send_at for n in notices)
    assert {n.state for n in notices} == {"pending"} and notices[0].send_at.tzinfo == STHLM
    assert queries.outbox(running, state="sent") == ()


def test_revision_status_before_and_after_the_revision_opens(running: Engine) -> None:
    before = queries.revision_status(running)
    assert before.revision is None and before.revision_due is not None
    opened = commands.open_revision(running, by="Anna", now=at(2026, 12, 1))
    commands.decide(running, "mbu.polis", "keep", text="Fortsätter", by="Anna", now=at(2026, 12, 2))
    shown = queries.revision_status(running)
    assert shown.revision is not None and shown.revision.number == opened.number
    assert shown.revision.decided == 1 and shown.revision.undecided == len(shown.revision.commitments) - 1
    kept = [d for d in shown.revision.commitments if d.decision is not None]
    assert [(d.commitment, d.decision, d.text) for d in kept] == [("boras.mbu.polis", "keep", "Fortsätter")]


def test_the_oldest_claim_is_when_the_first_notice_still_sending_was_taken(running: Engine) -> None:
    tick(running, at(2027, 3, 1, 8))
    assert queries.oldest_claim(running) is None
    claimed = datetime(2027, 3, 1, 7, 5, tzinfo=UTC)
    with db.transaction(running) as s:
        first = min(n.key for n in queries.outbox(running))
        s.execute(update(OutboxRow).where(OutboxRow.key == first).values(state="sending", claimed_at=claimed))
    assert queries.oldest_claim(running) == claimed


def test_user_count_counts_who_may_sign_in(loaded: Engine) -> None:
    assert queries.user_count(loaded) == 0
    commands_users.add_user(
        loaded, "anna@boras.example", role="owner", password="ett långt lösenord", now=at(2026, 11, 24)
    )
    assert queries.user_count(loaded) == 1


def test_a_typed_time_means_the_zone_of_the_agreement_it_is_about(
    engine: Engine, boras: Agreement, helsinki: Agreement
) -> None:
    assert queries.zone(engine) == DEFAULT_ZONE  # nothing loaded yet
    commands.load_plan(engine, helsinki, now=datetime(2020, 1, 10, 9, tzinfo=UTC))
    assert queries.zone(engine) == HELSINKI  # the only agreement
    commands.load_plan(engine, boras, now=at(2026, 11, 24))
    assert queries.zone(engine) == DEFAULT_ZONE  # two zones: none is the one meant
    assert queries.zone(engine, agreement="exempel") == HELSINKI
    assert queries.zone(engine, commitment="boras.mbu.polis") == STHLM
    theirs = next(r.id for r in queries.status(engine) if r.agreement == "exempel")
    assert queries.zones(engine, commitments=[theirs]).of_commitment(theirs) == HELSINKI
    assert queries.zone(engine, commitment="finns.inte", agreement="okänd") == DEFAULT_ZONE
