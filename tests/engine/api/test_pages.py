"""The web's read models: what a person may see, whether a period may be recorded, and no ORM row leaving the door."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from engine import db, service
from engine.api import commands, pages, pages_agreement, pages_dashboard, queries
from engine.models import AgreementRow, Base
from engine.review import Review
from engine.tick import tick
from engine.users import Person
from rules import follow_up as follow_up_rules
from rules import lifecycle
from rules.calendar import SwedishCalendar
from rules.errors import NotFound
from rules.model import Schedule

STHLM = ZoneInfo("Europe/Stockholm")
OWNER = Person(id=1, email="brab@boras.example", name="Britt", role="owner", party=None, unit=None)
POLIS = Person(id=2, email="polis@polisen.example", name=None, role="party", party="polis", unit=None)
FRITID = Person(id=3, email="fritid@boras.example", name=None, role="unit", party=None, unit="fritid-folkhalsa")
FRITIDS_OWN = "boras.bra-samordning.kommun"
SOMEONE_ELSES = "boras.mbu.kommun"  # BråB's own


def at(y: int, m: int, d: int, hh: int = 10) -> datetime:
    return datetime(y, m, d, hh, tzinfo=STHLM)


@pytest.fixture
def running(loaded: Engine) -> Engine:
    """Borås with every commitment started for its first period, 2016."""
    tick(loaded, at(2016, 1, 4))
    return loaded


def _orm_rows(value: Any) -> list[Any]:
    """Every ORM object reachable through a read model's fields, tuples and dicts."""
    if isinstance(value, Base):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [r for f in dataclasses.fields(value) for r in _orm_rows(getattr(value, f.name))]
    if isinstance(value, tuple | list):
        return [r for v in value for r in _orm_rows(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _orm_rows(v)]
    return []


def _shown(dashboard: pages_dashboard.Dashboard) -> list[str]:
    return [c.id for a in dashboard.agreements for area in a.areas for e in area.efforts for c in e.commitments]


def test_a_unit_contacts_dashboard_shows_only_its_units_commitments(running: Engine) -> None:
    mine = pages_dashboard.dashboard(running, FRITID, at(2016, 6, 1))
    with db.transaction(running) as s:
        expected = [r.id for r in service.status(s, unit="fritid-folkhalsa")]
    assert _shown(mine) == expected and len(expected) == 4
    assert mine.unit_name == "Fritids- och folkhälsoförvaltningen"
    (block,) = mine.agreements
    assert block.counts == ((lifecycle.PAGAENDE, 4),)
    everything = pages_dashboard.dashboard(running, OWNER, at(2016, 6, 1))
    assert len(_shown(everything)) == 30 and everything.unit_name is None


def test_a_commitment_page_says_whether_the_period_may_be_recorded_now(running: Engine) -> None:
    with db.transaction(running) as s:
        agreement = s.get(AgreementRow, "boras")
        assert agreement is not None
        schedule = Schedule.from_settings(agreement.timezone, agreement.schedule)
    opens = follow_up_rules.reporting_opens(2016, schedule, SwedishCalendar())
    first_day = datetime(opens.year, opens.month, opens.day, 9, tzinfo=STHLM)

    before = pages.commitment_page(running, FRITIDS_OWN, who=FRITID, now=first_day - timedelta(days=1))
    assert isinstance(before, pages.CommitmentPage)
    assert before.c.state == lifecycle.PAGAENDE and before.c.period == 2016 and not before.recordable
    page = pages.commitment_page(running, FRITIDS_OWN, who=FRITID, now=first_day, to_record=True)
    assert isinstance(page, pages.CommitmentPage) and page.recordable and page.may_record

    # What the page offers, the engine accepts; once recorded, the page offers it no more.
    values = {m.id: "3" if m.kind == "count" else "Alla var med" for m in page.measures}
    commands.record_follow_up(
        running, page.c.id, period=page.c.period, values=values, comment="Bra", by="Frida", now=first_day
    )
    after = pages.commitment_page(running, FRITIDS_OWN, who=FRITID, now=first_day)
    assert isinstance(after, pages.CommitmentPage) and not after.recordable
    assert [f.period for f in after.follow_ups] == [2016] and after.c.state == lifecycle.UPPFOLJD


def test_a_commitment_is_refused_to_whom_it_is_not_shown_and_unknown_ones_are_not_found(running: Engine) -> None:
    now = at(2016, 6, 1)
    assert pages.commitment_page(running, SOMEONE_ELSES, who=FRITID, now=now) == pages.Refused(commitment=SOMEONE_ELSES)
    seen = pages.commitment_page(running, SOMEONE_ELSES, who=POLIS, now=now)
    assert isinstance(seen, pages.CommitmentPage) and not seen.may_record  # a party contact sees the kommun's
    assert isinstance(pages.commitment_page(running, SOMEONE_ELSES, who=POLIS, now=now, to_record=True), pages.Refused)
    with pytest.raises(NotFound):
        pages.commitment_page(running, "boras.finns-inte.kommun", who=OWNER, now=now)


def test_a_link_knows_when_its_period_has_been_recorded(running: Engine) -> None:
    now = at(2017, 1, 10)
    assert pages.follow_up_link(running, "boras.finns-inte.kommun", 2016, now=now) == pages.LinkState(
        page=None, done=None
    )
    open_ = pages.follow_up_link(running, SOMEONE_ELSES, 2016, now=now)
    assert open_.page is not None and open_.done is None
    commands.record_follow_up(
        running, SOMEONE_ELSES, period=2016, values={"utbildningar": 1}, comment="En", by="BråB", now=now
    )
    done = pages.follow_up_link(running, SOMEONE_ELSES, 2016, now=now).done
    assert done is not None and done.by == "BråB"
    (value,) = done.values
    assert (value.value, value.target, value.below) == (1, 2, True)
    owner = pages.process_owner_of(running, SOMEONE_ELSES)
    assert owner is not None and owner.email == "brab@boras.example"


def test_no_read_model_hands_out_an_orm_row(running: Engine) -> None:
    now = at(2017, 1, 10)
    commands.record_follow_up(
        running, SOMEONE_ELSES, period=2016, values={"utbildningar": 1}, comment="En", by="BråB", now=now
    )
    shown: list[Any] = [
        pages_dashboard.dashboard(running, OWNER, now),
        pages.commitment_page(running, SOMEONE_ELSES, who=OWNER, now=now),
        pages.follow_up_link(running, SOMEONE_ELSES, 2016, now=now),
        pages_agreement.revision_page(running, None),
        pages_agreement.parties_page(running, None, who=OWNER),
        pages_agreement.reports_page(running, None, now=now),
        queries.overdue(running, now),
    ]
    for value in shown:
        assert _orm_rows(value) == [], type(value).__name__
        assert dataclasses.is_dataclass(value)
    for value in (v for v in shown if not isinstance(v, Review)):  # engine.review's own value, shared with the CLI
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, dataclasses.fields(value)[0].name, None)


def test_a_page_over_one_agreement_shows_the_one_asked_for_or_the_first(running: Engine) -> None:
    assert pages_agreement.agreement_choice(running, "finns-inte").chosen is not None
    choice = pages_agreement.agreement_choice(running, None)
    assert choice.chosen is not None and [a.id for a in choice.agreements] == ["boras"]
    assert choice.chosen.change_clause is not None  # Borås's file has its own words on changed conditions
    reports = pages_agreement.reports_page(running, "boras", now=at(2018, 2, 1))
    assert reports.years == (2018, 2017, 2016)
    parties = pages_agreement.parties_page(running, "boras", who=POLIS)
    assert [p.id for p in parties.parties] == ["polis"]  # a party contact speaks for its own party only
