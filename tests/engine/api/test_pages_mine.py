"""The read model of Mina uppföljningar: what an address may report now, across agreements, by the page rule."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from engine import db
from engine.agreement import Agreement
from engine.api import commands, pages, pages_mine, queries
from engine.api.pages import Contact
from engine.models import Base
from engine.plan import load_plan
from engine.tick import tick
from engine.users import Person

STHLM = ZoneInfo("Europe/Stockholm")
POLICE = "kommunpolis@polisen.example"  # a unit's address in Borås and in Exempel
OWNER = Person(id=1, email="brab@boras.example", name="Britt", role="owner", party=None, unit=None)


def at(y: int, m: int, d: int, hh: int = 10) -> datetime:
    return datetime(y, m, d, hh, tzinfo=STHLM)


@pytest.fixture
def both(engine: Engine, boras: Agreement, minimal: Agreement) -> Engine:
    """Borås and Exempel loaded in November 2026; each commitment running for 2026."""
    with db.transaction(engine) as s:
        load_plan(s, boras, now=at(2026, 11, 24, 9))
        load_plan(s, minimal, now=at(2026, 11, 24, 9))
    tick(engine, at(2026, 11, 24, 9))
    return engine


def test_the_items_are_exactly_the_addresss_commitments_the_commitment_page_calls_recordable(both: Engine) -> None:
    now = at(2027, 3, 1)
    mine = pages_mine.my_follow_ups(both, POLICE, now=now)
    expected = set()
    for row in queries.status(both):
        page = pages.commitment_page(both, row.id, who=OWNER, now=now)
        assert isinstance(page, pages.CommitmentPage)
        if page.unit.email == POLICE and page.recordable:
            expected.add(page.c.id)
    shown = [i.commitment for i in mine.items]
    assert len(shown) == 15 and set(shown) == expected
    assert mine.email == POLICE


def test_the_earliest_due_comes_first_with_its_days_left_in_the_agreements_own_date(both: Engine) -> None:
    mine = pages_mine.my_follow_ups(both, POLICE, now=at(2027, 3, 1))
    first, second = mine.items[:2]
    assert (first.commitment, first.agreement_id, first.effort, first.period) == (
        "exempel.vandringar.polis",
        "exempel",
        "Trygghetsvandringar",
        2026,
    )
    assert first.due == date(2027, 3, 1) and first.days_left == 0
    assert first.party_name == "Polismyndigheten, lokalpolisområde Exempel"
    assert first.unit_name == "Kommunpolis, lokalpolisområde Exempel"
    assert first.agreement_title.startswith("Samverkansöverenskommelse mellan Exempelstad")
    assert second.due == date(2027, 3, 31) and second.days_left == 30
    assert [i.due for i in mine.items] == sorted(i.due for i in mine.items if i.due is not None)
    late = pages_mine.my_follow_ups(both, POLICE, now=at(2027, 4, 20))
    assert late.items[0].days_left == -50 and late.items[-1].days_left == -20


def test_a_recorded_follow_up_is_no_longer_listed_and_the_address_is_compared_without_case(both: Engine) -> None:
    now = at(2027, 3, 1)
    commands.record_follow_up(
        both, "boras.mbu.polis", period=2026, values={"utbildningar": 2}, comment="ok", by="Kim", now=now
    )
    shown = [i.commitment for i in pages_mine.my_follow_ups(both, "  KommunPolis@Polisen.Example ", now=now).items]
    assert len(shown) == 14 and "boras.mbu.polis" not in shown


def test_nothing_before_reporting_opens_and_nothing_for_an_unknown_address(both: Engine) -> None:
    assert pages_mine.my_follow_ups(both, POLICE, now=at(2026, 12, 31)).items == ()
    assert pages_mine.my_follow_ups(both, POLICE, now=at(2027, 1, 1)).items != ()
    assert pages_mine.my_follow_ups(both, "ingen@example.org", now=at(2027, 3, 1)).items == ()


def test_whom_to_ask_is_each_agreements_process_owner(both: Engine) -> None:
    assert pages_mine.process_owners_for(both, "KOMMUNPOLIS@polisen.example") == (
        Contact(name="Brottsförebyggande rådet i Borås (BråB)", email="brab@boras.example"),
        Contact(name="Brottsförebyggande rådet i Exempelstad", email="bra@exempelstad.example"),
    )
    assert pages_mine.process_owners_for(both, "ingen@example.org") == ()


def _orm_rows(value: object) -> list[object]:
    if isinstance(value, Base):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [r for f in dataclasses.fields(value) for r in _orm_rows(getattr(value, f.name))]
    if isinstance(value, tuple | list):
        return [r for v in value for r in _orm_rows(v)]
    return []


def test_the_read_model_is_frozen_and_hands_out_no_orm_row(both: Engine) -> None:
    mine = pages_mine.my_follow_ups(both, POLICE, now=at(2027, 3, 1))
    assert _orm_rows(mine) == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        mine.items[0].period = 2025  # type: ignore[misc]
