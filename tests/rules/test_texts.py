"""The Swedish words every edge shares: one name per thing, plurals, dates in the agreement's zone, numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from rules import lifecycle, texts
from rules.model import NoticeKind


def test_one_day_is_singular_and_every_other_count_plural() -> None:
    assert [texts.days(n) for n in (1, -1, 0, 2, 30)] == ["1 dag", "-1 dag", "0 dagar", "2 dagar", "30 dagar"]


@pytest.mark.parametrize(
    ("count", "shown"),
    [(None, ""), (0, "i dag"), (1, "om 1 dag"), (7, "om 7 dagar"), (-1, "1 dag sen"), (-3, "3 dagar sen")],
)
def test_a_deadline_relative_to_today(count: int | None, shown: str) -> None:
    assert texts.days_left(count) == shown


def test_a_date_is_swedish_prose_and_an_instant_is_shown_in_the_zone_given() -> None:
    assert texts.datum(date(2028, 2, 29)) == "29 februari 2028"
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # already New Year's Day in Stockholm
    assert texts.datum(late) == "1 januari 2027"
    assert texts.datum(late, ZoneInfo("UTC")) == "31 december 2026"
    assert texts.datumtid(datetime(2027, 3, 28, 1, 30, tzinfo=UTC)) == "28 mars 2027 kl. 03:30"  # summer time began
    with pytest.raises(ValueError, match="ingen tidpunkt med tidszon"):
        texts.datumtid(datetime(2027, 3, 1, 8, 0))  # noqa: DTZ001 - the naive instant is the point


def test_a_number_has_no_needless_decimals_and_a_decimal_comma() -> None:
    assert [texts.tal(v) for v in (2, 2.0, 2.5, None, True)] == ["2", "2", "2,5", "–", "ja"]


def test_every_notice_kind_state_and_trigger_has_its_one_swedish_name() -> None:
    assert set(NoticeKind.__args__) <= set(texts.KIND_NAMES)  # type: ignore[attr-defined]
    assert set(lifecycle.STATES) == set(texts.STATE_NAMES)
    assert set(lifecycle.TRIGGERS) == set(texts.TRIGGER_NAMES)
    assert texts.kind_name("revision_kickoff") == "revideringsstart" and texts.kind_name("ny_sort") == "ny_sort"


def test_the_usual_parties_have_the_plans_words_and_others_their_own_name() -> None:
    assert texts.party_label("polis", "Polismyndigheten") == "Polisen"
    assert texts.party_heading("kommun", "Borås Stad") == "Kommunens åtagande"
    assert texts.party_heading("region", "Västra Götalandsregionen") == "Västra Götalandsregionen: åtagande"


@pytest.mark.parametrize(
    ("title", "after_i"),
    [
        (
            "Samverkansöverenskommelse mellan Borås Stad och Polismyndigheten",
            "samverkansöverenskommelsen mellan Borås Stad och Polismyndigheten",
        ),
        ("Överenskommelse om samverkan", "överenskommelsen om samverkan"),
        ("Borås trygghetsavtal", "Borås trygghetsavtal"),
    ],
)
def test_an_agreement_title_in_a_sentence_takes_the_definite_form(title: str, after_i: str) -> None:
    assert texts.in_title(title) == after_i
