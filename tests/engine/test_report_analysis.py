"""The process owner's analysis and conclusions of a period: saved per agreement and period, every version kept.

Borås loaded at the start of 2016 (tests/conftest.py's ``loaded``); the analyses are
written in the spring after their year, through engine.api.commands.save_analysis.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, func, select

from engine import db
from engine.api import commands, pages_agreement, queries
from engine.models import ReportAnalysis
from rules.errors import InvalidValue

APRIL_2017 = datetime(2017, 4, 3, 9, 0, tzinfo=UTC)


def _rows(engine: Engine) -> int:
    with db.transaction(engine) as s:
        return int(s.scalar(select(func.count()).select_from(ReportAnalysis)) or 0)


def test_an_analysis_is_shown_in_the_report_of_its_own_period_only(loaded: Engine) -> None:
    commands.save_analysis(loaded, period=2016, text="Året gick bra.", by="Anna", now=APRIL_2017)
    shown = queries.report(loaded, period=2016).analysis
    assert shown is not None
    assert (shown.text, shown.by, shown.version, shown.written) == ("Året gick bra.", "Anna", 1, date(2017, 4, 3))
    assert shown.changed_line == "Senast ändrad 3 april 2017 av Anna"
    assert queries.report(loaded, period=2017).analysis is None  # another period does not show it


def test_each_save_is_a_new_version_and_the_report_shows_the_latest(loaded: Engine) -> None:
    first = commands.save_analysis(loaded, period=2016, text="Utkast.", by="Anna", now=APRIL_2017, version=0)
    later = datetime(2017, 5, 2, 9, 0, tzinfo=UTC)
    second = commands.save_analysis(loaded, period=2016, text="Slutlig.", by="Per", now=later, version=1)
    assert (first.analysis.version, second.analysis.version) == (1, 2)
    report = queries.report(loaded, period=2016)
    assert report.analysis is not None and report.analysis.text == "Slutlig."
    assert report.analysis.changed_line == "Senast ändrad 2 maj 2017 av Per"
    page = pages_agreement.reports_page(loaded, None, now=later, period=2016)
    assert [(a.version, a.text, a.by) for a in page.analysis] == [(2, "Slutlig.", "Per"), (1, "Utkast.", "Anna")]
    assert page.version == 2


def test_the_same_text_again_writes_no_new_version(loaded: Engine) -> None:
    commands.save_analysis(loaded, period=2016, text="Året gick bra.", by="Anna", now=APRIL_2017)
    again = commands.save_analysis(loaded, period=2016, text="Året gick bra.\r\n\r\n", by="Per", now=APRIL_2017)
    assert not again.changed and again.analysis.version == 1 and _rows(loaded) == 1


def test_a_save_from_a_form_opened_before_another_save_is_refused_and_writes_nothing(loaded: Engine) -> None:
    commands.save_analysis(loaded, period=2016, text="Annas text.", by="Anna", now=APRIL_2017, version=0)
    with pytest.raises(InvalidValue) as refused:
        commands.save_analysis(loaded, period=2016, text="Pers text.", by="Per", now=APRIL_2017, version=0)
    assert refused.value.field == "version"
    assert "har ändrats sedan formuläret öppnades (nu version 1" in refused.value.message
    assert _rows(loaded) == 1
    assert queries.report(loaded, period=2016).analysis.text == "Annas text."  # type: ignore[union-attr]


def test_paragraphs_are_parted_by_blank_lines_and_line_breaks_kept(loaded: Engine) -> None:
    text = "\r\n\r\nFörsta stycket,\r\nandra raden.  \r\n\r\n\r\nAndra stycket.\r\n\r\n"
    commands.save_analysis(loaded, period=2016, text=text, by="Anna", now=APRIL_2017)
    shown = queries.report(loaded, period=2016).analysis
    assert shown is not None and shown.text == "Första stycket,\nandra raden.\n\n\nAndra stycket."
    assert shown.paragraphs == (("Första stycket,", "andra raden."), ("Andra stycket.",))


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"text": " \n\n "}, "text", "analysen är tom"),
        ({"text": "x" * 20_001}, "text", "högst 20000 tecken"),
        (
            {"text": "Rad ett\nRad två\x00"},
            "text",
            "otillåtet tecken U+0000 (styrtecken får inte stå i analysen) (rad 2)",
        ),
        ({"text": "Ok", "by": "  "}, "by", "ange vem som skrev analysen"),
        ({"text": "Ok", "by": "Anna\nBcc: x"}, "by", "ett namn på en rad"),
        ({"text": "Ok", "period": 2015}, "period", "från 2016 till 2017"),
        ({"text": "Ok", "period": 2018}, "period", "från 2016 till 2017"),
        ({"text": "Ok", "agreement": "okänd"}, "agreement", "okänd överenskommelse 'okänd'"),
    ],
)
def test_a_bad_analysis_is_refused_with_its_reason_and_nothing_is_written(
    loaded: Engine, fields: dict[str, object], field: str, words: str
) -> None:
    values: dict[str, object] = {"period": 2016, "by": "Anna"} | fields
    with pytest.raises(InvalidValue) as refused:
        commands.save_analysis(loaded, now=APRIL_2017, **values)  # type: ignore[arg-type]
    assert refused.value.field == field and words in refused.value.message
    assert _rows(loaded) == 0


def test_the_reports_page_shows_last_years_analysis_unless_another_year_is_asked_for(loaded: Engine) -> None:
    commands.save_analysis(loaded, period=2016, text="Om 2016.", by="Anna", now=APRIL_2017)
    page = pages_agreement.reports_page(loaded, None, now=APRIL_2017)
    assert page.period == 2016 and [a.text for a in page.analysis] == ["Om 2016."]
    other = pages_agreement.reports_page(loaded, None, now=APRIL_2017, period=2017)
    assert other.period == 2017 and other.analysis == () and other.version == 0
    # A year outside the page's list falls back to last year's.
    assert pages_agreement.reports_page(loaded, None, now=APRIL_2017, period=1999).period == 2016
