"""The Swedish phrases `samverkan import` reads an agreement's facts from, one at a time."""

from __future__ import annotations

from datetime import date

import pytest

from engine.importer import phrases
from engine.importer.document import Heading, Table, read_text


@pytest.mark.parametrize(
    ("sentence", "valid_from", "valid_to", "open_ended"),
    [
        ("Överenskommelsen gäller tills vidare och föreslås genomgå revidering.", None, None, True),
        ("Överenskommelsen gäller 2019–2022.", date(2019, 1, 1), date(2022, 12, 31), False),
        (
            "Överenskommelsen gäller från 1 mars 2024 till och med 31 december 2027.",
            date(2024, 3, 1),
            date(2027, 12, 31),
            False,
        ),
        ("Den gäller från 2024-03-01 till 2026-12-31.", date(2024, 3, 1), date(2026, 12, 31), False),
    ],
)
def test_the_term_a_sentence_states(
    sentence: str, valid_from: date | None, valid_to: date | None, open_ended: bool
) -> None:
    term = phrases.term(sentence)
    assert term is not None and (term.valid_from, term.valid_to, term.open_ended) == (valid_from, valid_to, open_ended)


def test_a_sentence_about_something_else_states_no_term() -> None:
    assert phrases.term("Polisen har kommunpoliser som en direkt länk.") is None


@pytest.mark.parametrize(
    ("sentence", "years"),
    [
        ("Överenskommelsen föreslås genomgå revidering ungefär vart tredje år.", 3),
        ("Planen revideras vart tredje år.", 3),
        ("Planen revideras vartannat år.", 2),
        ("Åtgärdsplanen revideras årligen.", 1),
        ("Uppföljning ska göras årligen.", None),
    ],
)
def test_how_often_the_plan_is_revised(sentence: str, years: int | None) -> None:
    assert phrases.revision_years(sentence) == years


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("Utbildning två gånger per år.", 2),
        ("minst 1ggr/ år", 1),
        ("minst 1 ggr/år", 1),
        ("en gång per år", 1),
        ("Antal möten", None),
    ],
)
def test_targets(text: str, target: int | None) -> None:
    found = phrases.target(text)
    assert (found[0] if found else None) == target


def test_the_bodies_a_cell_names_responsible_or_supporting() -> None:
    cell = (
        "Genomföra trygghetsvandringar i bostadsområden, Stadsdelsförvaltningarna ansvarar. "
        "Fritids- och folkhälsoförvaltningen är en samordnande funktion. För de lokala råden ansvarar "
        "Stadsdelsförvaltningen Väster. Ansvariga är samverkansgruppen mot våldsbejakande extremism. "
        "Varje förvaltning bär ansvar."
    )
    assert [(b.name, b.leads) for b in phrases.named_bodies(cell)] == [
        ("Stadsdelsförvaltningarna", True),
        ("Fritids- och folkhälsoförvaltningen", False),
        ("Stadsdelsförvaltningen Väster", True),
        ("Samverkansgruppen mot våldsbejakande extremism", True),
    ]
    assert phrases.process_owner("Brottsförebyggande rådet i Borås är processägare och ansvarar.") == (
        "Brottsförebyggande rådet i Borås"
    )
    assert phrases.signing_line("Borås den 14 december 2015") == date(2015, 12, 14)


def test_a_text_row_cut_by_a_page_break_is_one_row_and_a_hyphenated_word_is_whole() -> None:
    text = (
        "1. Område\n\nInsats/mål\tKommunens åtagande\tPolisens åtagande\tTidsplan\n"
        "Insatser för trygghet\tArrangemang av\tDelta i samverkans-\tLöpande under\n\n"
        "<p>och trivsel</p>\t<p>aktivitetsdagar.</p> <p>Genomföra vandringar.</p>\t<p>gruppen.</p>\t"
        "<p>perioden &amp; året.</p>\n"
    )
    [heading, table] = read_text(text, "t.txt").blocks
    assert isinstance(heading, Heading) and isinstance(table, Table)
    assert heading.number == 1 and heading.text == "Område"
    [row] = table.rows
    assert [c.text for c in row] == [
        "Insatser för trygghet och trivsel",
        "Arrangemang av aktivitetsdagar. Genomföra vandringar.",
        "Delta i samverkansgruppen.",
        "Löpande under perioden & året.",
    ]
    assert table.joined == [(0, "rad 6")]
