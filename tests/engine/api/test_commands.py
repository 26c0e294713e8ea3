"""The one door's commands: each is one transaction, returns what it queued, and writes nothing when refused."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from engine import db
from engine.agreement import Agreement
from engine.api import commands
from engine.models import FollowUp, OutboxRow, PartyEvent
from engine.tick import tick
from rules.errors import InvalidValue

STHLM = ZoneInfo("Europe/Stockholm")


def at(y: int, m: int, d: int, hh: int = 10) -> datetime:
    return datetime(y, m, d, hh, tzinfo=STHLM)


@pytest.fixture
def running(engine: Engine, boras: Agreement) -> Engine:
    loaded = commands.load_plan(engine, boras, now=at(2026, 11, 24))
    assert loaded.created and loaded.first_period == 2026 and loaded.first_due is not None
    tick(engine, at(2026, 11, 24))
    return engine


def _count(engine: Engine, model: type) -> int:
    with db.transaction(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_loading_the_same_plan_again_changes_nothing(running: Engine, boras: Agreement) -> None:
    again = commands.load_plan(running, boras, now=at(2026, 11, 25))
    assert not again.created and again.changes == () and again.first_period is None


def test_a_follow_up_below_target_returns_the_deviation_it_queued(running: Engine) -> None:
    done = commands.record_follow_up(
        running, "mbu.polis", period=2026, values={"utbildningar": 1}, comment="En", by="Polisen", now=at(2027, 1, 10)
    )
    assert (done.commitment, done.period, done.version) == ("boras.mbu.polis", 2026, 1)
    assert done.deviations == ("utbildningar",)
    assert [n.kind for n in done.queued] == ["deviation"]
    with db.transaction(running) as s:
        keys = set(s.scalars(select(OutboxRow.key).where(OutboxRow.kind == "deviation")))
    assert keys == {n.key for n in done.queued}


def test_a_correction_with_the_same_shortfall_names_the_deviation_but_queues_nothing_new(running: Engine) -> None:
    first = dict(period=2026, values={"utbildningar": 1}, comment="En", by="Polisen", now=at(2027, 1, 10))
    commands.record_follow_up(running, "mbu.polis", **first)  # type: ignore[arg-type]
    again = commands.record_follow_up(running, "mbu.polis", **first | {"replace": True})  # type: ignore[arg-type]
    assert again.version == 2 and again.deviations == ("utbildningar",) and again.queued == ()


def test_a_refused_follow_up_writes_nothing(running: Engine) -> None:
    before = (_count(running, FollowUp), _count(running, OutboxRow))
    with pytest.raises(InvalidValue) as refused:
        commands.record_follow_up(
            running, "mbu.polis", period=2026, values={"utbildningar": 2}, comment=" ", by="P", now=at(2027, 1, 10)
        )
    assert refused.value.field == "comment"
    assert (_count(running, FollowUp), _count(running, OutboxRow)) == before


def test_a_change_of_conditions_returns_the_notice_it_queued_for_the_other_party(running: Engine) -> None:
    told = commands.notify_change(
        running, party="polis", text="Ny organisation", by="Polisen", now=at(2027, 2, 1), commitments=["mbu.polis"]
    )
    assert told.kind == "change" and told.commitments == ("boras.mbu.polis",)
    assert [n.kind for n in told.queued] == ["change_notice"] and told.queued[0].send_at == at(2027, 2, 1)
    assert _count(running, PartyEvent) == 1


def test_a_termination_in_the_past_is_refused_with_its_field(running: Engine) -> None:
    with pytest.raises(InvalidValue) as refused:
        commands.terminate(
            running, party="kommun", effective=date(2027, 1, 1), reason="x", by="K", now=at(2027, 2, 1)
        )
    assert refused.value.field == "effective" and _count(running, PartyEvent) == 0


def test_opening_a_revision_returns_its_kick_off_and_opening_it_again_queues_nothing(running: Engine) -> None:
    opened = commands.open_revision(running, by="BråB", now=at(2027, 2, 1))
    assert opened.agreement == "boras" and [n.kind for n in opened.queued] == ["revision_kickoff"]
    assert commands.open_revision(running, by="BråB", now=at(2027, 2, 2)).queued == ()
