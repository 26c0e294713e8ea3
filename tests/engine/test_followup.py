"""Recording a follow-up: every measure, whole numbers, the state move, deviations, corrections."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from engine import db, service
from engine.agreement import Agreement
from engine.models import Commitment, FollowUp, OutboxRow, TransitionRecord
from engine.plan import load_plan
from engine.tick import tick
from rules.errors import SamverkanError, TransitionNotAllowed

STHLM = ZoneInfo("Europe/Stockholm")


def at(y: int, m: int, d: int, hh: int = 10) -> datetime:
    return datetime(y, m, d, hh, tzinfo=STHLM)


@pytest.fixture
def running(engine: Engine, boras: Agreement) -> Engine:
    with db.transaction(engine) as s:
        load_plan(s, boras, now=at(2026, 11, 24))
    tick(engine, at(2026, 11, 24))
    return engine


def record(engine: Engine, key: str, values: dict[str, object], *, period: int = 2026, **kw: object) -> FollowUp:
    with db.transaction(engine) as s:
        return service.record_follow_up(
            s,
            key,
            period=period,
            values=values,
            comment=str(kw.pop("comment", "Genomfört enligt plan")),
            by=str(kw.pop("by", "Kommunpolisen")),
            now=kw.pop("now", at(2027, 3, 10)),  # type: ignore[arg-type]
            **kw,  # type: ignore[arg-type]
        )


def snapshot(engine: Engine) -> tuple[list[tuple[str, str]], int, int, int]:
    with db.transaction(engine) as s:
        states = sorted((c.id, c.state) for c in s.scalars(select(Commitment)))
        return (
            states,
            len(s.scalars(select(FollowUp)).all()),
            len(s.scalars(select(TransitionRecord)).all()),
            len(s.scalars(select(OutboxRow)).all()),
        )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "aktivitetsmåttet 'utbildningar' saknas"),
        ({"utbildningar": "-1"}, "ska vara ett heltal ≥ 0"),
        ({"utbildningar": "2.5"}, "ska vara ett heltal ≥ 0"),
        ({"utbildningar": "två"}, "ska vara ett heltal ≥ 0"),
        ({"utbildningar": ""}, "ska vara ett heltal ≥ 0"),
        ({"utbildningar": True}, "ska vara ett heltal ≥ 0"),
        ({"utbildningar": 2, "deltagare": 5}, "okänt aktivitetsmått deltagare"),
    ],
)
def test_every_kind_of_bad_value_is_refused_and_nothing_is_written(
    running: Engine, values: dict[str, object], message: str
) -> None:
    before = snapshot(running)
    with pytest.raises(SamverkanError, match=message):
        record(running, "mbu.polis", values)
    assert snapshot(running) == before


def test_a_text_measure_must_not_be_empty(running: Engine) -> None:
    values = {"verksamhetsberattelse": "  ", "antal-insatser": "4"}
    with pytest.raises(SamverkanError, match="'verksamhetsberattelse' ska vara en text"):
        record(running, "narkotika.kommun", values)


@pytest.mark.parametrize(
    ("key", "kw", "message"),
    [
        ("mbu.polis", {"period": 2027}, "följs nu upp för 2026, inte 2027"),
        ("mbu.polis", {"now": at(2026, 12, 30)}, "uppföljningen för 2026 kan lämnas från 1 januari 2027"),
        ("trafik.polis", {}, "är avslutat"),
        ("mbu.polis", {"hours": -3.0}, "^hours: "),
        ("mbu.polis", {"comment": " "}, "^comment: "),
    ],
)
def test_a_follow_up_at_the_wrong_time_or_for_an_ended_commitment_is_refused(
    running: Engine, key: str, kw: dict[str, object], message: str
) -> None:
    values = {"atgardande-insatser": 1} if "trafik" in key else {"utbildningar": 2}
    before = snapshot(running)
    with pytest.raises(SamverkanError, match=message):
        record(running, key, values, **kw)
    assert snapshot(running) == before


def test_recording_moves_the_commitment_to_uppfoljd_with_who_and_when_in_history(running: Engine) -> None:
    record(running, "mbu.polis", {"utbildningar": "2"}, hours=12.5, by="Anna Kommunpolis")
    with db.transaction(running) as s:
        c, rows = service.history(s, "mbu.polis")
        f = s.scalars(select(FollowUp)).one()
    assert c.state == "uppföljd"
    assert (rows[-1].trigger, rows[-1].from_state, rows[-1].to_state, rows[-1].by) == (
        "follow_up",
        "pågående",
        "uppföljd",
        "Anna Kommunpolis",
    )
    assert (f.values, f.hours, f.version, f.period) == ({"utbildningar": 2}, 12.5, 1, 2026)


def test_a_value_below_target_is_a_deviation_for_the_process_owner(running: Engine) -> None:
    record(running, "mbu.polis", {"utbildningar": 1})
    with db.transaction(running) as s:
        dev = s.scalars(select(OutboxRow).where(OutboxRow.kind == "deviation")).one()
    assert dev.key == "deviation:boras.mbu.polis:2026:utbildningar"
    assert dev.recipients == ["brab@boras.example"]
    assert (dev.data["value"], dev.data["target"]) == (1, 2)


def test_given_twice_is_refused_a_correction_keeps_the_earlier_version(running: Engine) -> None:
    record(running, "mbu.polis", {"utbildningar": 1})
    with pytest.raises(SamverkanError, match="registrerades redan 10 mars 2027; rätta med --replace"):
        record(running, "mbu.polis", {"utbildningar": 2})
    record(running, "mbu.polis", {"utbildningar": 2}, replace=True, comment="Rättat: två utbildningar")
    with db.transaction(running) as s:
        versions = [
            (f.version, f.values["utbildningar"], f.comment)
            for f in s.scalars(select(FollowUp).order_by(FollowUp.version))
        ]
    assert versions == [(1, 1, "Genomfört enligt plan"), (2, 2, "Rättat: två utbildningar")]


def test_a_correction_needs_something_to_correct(running: Engine) -> None:
    with pytest.raises(SamverkanError, match="ingen uppföljning för 2026 att rätta"):
        record(running, "mbu.polis", {"utbildningar": 2}, replace=True)


def test_a_planned_commitment_cannot_be_followed_up(engine: Engine, boras: Agreement) -> None:
    with db.transaction(engine) as s:
        load_plan(s, boras, now=at(2016, 1, 4))  # not ticked: still planerad
    with pytest.raises(SamverkanError, match="har inte startat"):
        record(engine, "mbu.polis", {"utbildningar": 2}, period=2016, now=at(2017, 2, 1))


def test_a_commitment_under_revision_is_not_followed_up(running: Engine) -> None:
    from engine.revisions import decide, open_revision

    with db.transaction(running) as s:
        open_revision(s, by="BråB", now=at(2027, 1, 10))
        decide(s, "mbu.polis", "keep", text="Fortsätter", by="BråB", now=at(2027, 1, 10))
    with pytest.raises(TransitionNotAllowed):
        record(running, "mbu.polis", {"utbildningar": 2})
