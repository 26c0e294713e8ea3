"""The coming deadlines the calendar exports: still coming until the day has ended where the agreement is."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from engine import db
from engine.agreement import parse_agreement
from engine.deadlines import coming_deadlines
from engine.plan import load_plan
from rules.errors import InvalidValue

MINIMAL = Path(__file__).resolve().parent.parent / "data" / "minimal.yaml"
# The minimal agreement's 2020 follow-up is due 28 February 2021, a Sunday, so 1 March.
DUE = date(2021, 3, 1)


def load_in(engine: Engine, zone: str) -> Engine:
    text = MINIMAL.read_text(encoding="utf-8").replace("timezone: Europe/Stockholm", f"timezone: {zone}")
    with db.transaction(engine) as s:
        load_plan(s, parse_agreement(text, MINIMAL.name), now=datetime(2020, 3, 2, 12, tzinfo=UTC))
    return engine


def dues(engine: Engine, now: datetime) -> list[date]:
    with db.transaction(engine) as s:
        return [f.due for f in coming_deadlines(s, now=now).follow_ups]


def test_a_deadline_has_passed_once_its_day_has_ended_in_stockholm(engine: Engine) -> None:
    load_in(engine, "Europe/Stockholm")
    assert dues(engine, datetime(2021, 3, 1, 22, 59, tzinfo=UTC)).count(DUE) == 3  # 23:59 on 1 March
    # 00:30 on 2 March in Stockholm, though still 1 March in UTC.
    assert DUE not in dues(engine, datetime(2021, 3, 1, 23, 30, tzinfo=UTC))


def test_a_deadline_is_still_coming_while_its_day_lasts_west_of_utc(engine: Engine) -> None:
    load_in(engine, "America/Sao_Paulo")
    # 22:00 on 1 March in São Paulo (UTC−3), though already 2 March in UTC.
    assert dues(engine, datetime(2021, 3, 2, 1, 0, tzinfo=UTC)).count(DUE) == 3
    assert DUE not in dues(engine, datetime(2021, 3, 2, 3, 0, tzinfo=UTC))  # midnight there


def test_the_revision_is_listed_whatever_the_unit(engine: Engine) -> None:
    load_in(engine, "Europe/Stockholm")
    with db.transaction(engine) as s:
        found = coming_deadlines(s, now=datetime(2021, 3, 2, 12, tzinfo=UTC), unit="kommunpolis")
    assert {f.unit for f in found.follow_ups} == {"Kommunpolis, lokalpolisområde Exempel"}
    assert [(r.agreement, r.number, r.due) for r in found.revisions] == [("exempel", 1, date(2023, 2, 28))]


def test_an_unknown_party_is_refused_with_the_known_ones(engine: Engine) -> None:
    load_in(engine, "Europe/Stockholm")
    refused = pytest.raises(InvalidValue, match=r"^party: okänd part 'kommunen' \(parter: kommun, polis\)")
    with refused, db.transaction(engine) as s:
        coming_deadlines(s, now=datetime(2021, 3, 2, 12, tzinfo=UTC), party="kommunen")
