"""`samverkan import`'s engine: the Borås seed and an invented Word agreement drafted into agreement files.

The seed (tests/data/import/boras-2015.txt, a copy of ../shared/seed/000_93d1b150904f2eb5.txt) is
Borås's signed agreement exported to text; config/boras-2015.yaml is the same agreement written by
hand, so the draft's responsible units are measured against it.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import docx
import pytest

from engine.agreement import Agreement, load_agreement, parse_agreement
from engine.importer import DocumentError, Imported, draft_file
from tests.engine.importer_docs import EXPECTED, exempelby_docx

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "tests" / "data" / "import" / "boras-2015.txt"
TODAY = date(2026, 12, 1)


@pytest.fixture(scope="module")
def seed() -> Imported:
    return draft_file(SEED.read_bytes(), "boras-2015.txt", agreement_id=None, today=TODAY)


@pytest.fixture(scope="module")
def seed_agreement(seed: Imported) -> Agreement:
    return parse_agreement(seed.text, "utkast.yaml")


def _plain(name: str) -> str:
    """A unit's name as compared: "Brottsförebyggande rådet i Borås (BråB)" is the council the text names."""
    return re.sub(r"\s*\([^)]*\)", "", name).casefold().strip()


def responsible_names(agreement: Agreement) -> dict[tuple[str, str], str]:
    units = {u.id: u.name for u in agreement.units}
    return {
        (effort.title.casefold(), party): _plain(units[spec.responsible])
        for _, effort, party, spec in agreement.commitments()
    }


def test_the_seed_drafts_4_areas_15_efforts_and_30_commitments_that_validate(seed_agreement: Agreement) -> None:
    efforts = [e for a in seed_agreement.areas for e in a.efforts]
    assert [a.number for a in seed_agreement.areas] == [1, 2, 3, 4]
    assert len(efforts) == 15 and sum(1 for _ in seed_agreement.commitments()) == 30
    hand = load_agreement(ROOT / "config" / "boras-2015.yaml")
    assert [e.title for e in efforts] == [e.title for a in hand.areas for e in a.efforts]
    # The row cut in two by a page break is read as one: title and both halves of each cell.
    trygghet = next(e for e in efforts if e.title == "Insatser för trygghet och trivsel")
    assert trygghet.commitments["kommun"].text.startswith("Arrangemang av aktivitetsdagar i syfte att skapa möten")
    vbe = next(e for e in efforts if e.title == "Våldsbejakande extremism")
    assert vbe.timeframe.text == "Löpande under perioden för samverkansöverenskommelsen"


def test_at_least_90_percent_of_the_responsible_units_are_those_of_the_hand_written_file(
    seed_agreement: Agreement,
) -> None:
    drafted = responsible_names(seed_agreement)
    hand = responsible_names(load_agreement(ROOT / "config" / "boras-2015.yaml"))
    assert drafted.keys() == hand.keys()
    same = sum(1 for key in hand if drafted[key] == hand[key])
    print(f"\nansvariga enheter lika som i config/boras-2015.yaml: {same}/{len(hand)} = {same / len(hand):.0%}")
    assert same / len(hand) >= 0.9


def test_the_seeds_head_term_schedule_and_signatories(seed_agreement: Agreement) -> None:
    head = seed_agreement.agreement
    assert head.id == "boras" and head.signed == date(2015, 12, 14) and head.valid_to is None
    assert head.title.startswith("Samverkansöverenskommelse mellan Borås Stad och Polismyndigheten")
    owner = next(u for u in seed_agreement.units if u.id == head.process_owner)
    assert owner.name == "Brottsförebyggande rådet i Borås"
    assert seed_agreement.schedule.revision.every_years == 3
    assert seed_agreement.schedule.follow_up.first_period == 2016
    signed = {p.id: (p.signatory.name, p.signatory.title) for p in seed_agreement.parties if p.signatory}
    assert signed == {
        "kommun": ("Ulf Olsson", "Kommunstyrelsens ordförande"),
        "polis": ("Tomas Jansson", "Lokalpolisområdeschef"),
    }
    assert head.termination_clause == "Vardera part har rätt att säga upp överenskommelsen."


def test_measures_split_per_antal_and_targets_are_read(seed_agreement: Agreement) -> None:
    efforts = {e.title: e for a in seed_agreement.areas for e in a.efforts}
    servering = efforts["Ansvarsfull alkoholserving och tillsyn"].measures
    assert [m.text for m in servering] == ["Antal utbildningar", "Antal deltagare", "Antal genomförda tillsyner"]
    assert servering[0].target == 1  # "minst 1ggr/ år" in the municipality's commitment
    lagning = efforts["Minskad alkoholkonsumtion i offentligheten"].measures
    assert [(m.text, m.kind) for m in lagning] == [
        ("Verksamhetsberättelse", "text"),
        ("Antal lagförda lagningsbrott", "count"),
        ("Antal direktförverkande", "count"),
    ]
    [mbu] = efforts["MBU – Människan bakom uniformen"].measures
    assert mbu.target == 2 and mbu.kind == "count"  # "Utbildning två gånger per år."
    trafik = efforts["Trafik"].timeframe
    assert (trafik.start, trafik.end) == (date(2016, 1, 1), date(2018, 12, 31))
    assert efforts["Våld i nära relationer"].measures == []


def test_every_guess_is_marked_at_its_line_and_every_address_is_a_todo(seed: Imported) -> None:
    lines = seed.text.splitlines()
    emails = [line for line in lines if line.strip().startswith("email:")]
    assert len(emails) == 9 and all(".example" in line and "# TODO" in line for line in emails)
    # The commitments the plan names no unit for are the process owner's, each saying so.
    fallback = [line for line in lines if "responsible: brottsforebyggande-radet-i-boras" in line]
    assert len(fallback) == 4 and all("processägaren" in line for line in fallback)
    [target] = [line for line in lines if line.strip().startswith("target: 2")]
    assert "# KONTROLLERA: målet 2 per år ur 'två gånger per år'" in target
    assert "# KONTROLLERA:" in next(line for line in lines if "title: Insatser för trygghet och trivsel" in line)
    assert len(seed.draft.guessed) == sum(line.count("KONTROLLERA:") for line in lines)


def test_the_summary_says_what_was_found_guessed_and_not_placed_with_its_source(seed: Imported) -> None:
    summary = seed.summary()
    assert summary[0] == "Utkast: 4 samverkansområden, 15 insatser, 30 åtaganden, 9 enheter."
    text = "\n".join(summary)
    assert "processägare Brottsförebyggande rådet i Borås (rad 27)" in text
    assert "ansvarig Tekniska förvaltningen (rad 51, kolumn 2)" in text
    assert "raden fortsatte efter en sidbrytning (rad 54) och har lagts ihop (rad 52, kolumn 1)" in text
    assert "Kunde inte placeras (0):" in text


def test_an_invented_word_agreement_drafts_every_area_effort_commitment_and_its_term() -> None:
    imported = draft_file(exempelby_docx(), "exempelby.docx", agreement_id="exempelby", today=TODAY)
    agreement = parse_agreement(imported.text, "exempelby.yaml")
    head = agreement.agreement
    assert (head.signed, head.valid_from, head.valid_to) == (date(2024, 2, 20), date(2024, 3, 1), date(2027, 12, 31))
    assert agreement.schedule.revision.every_years == 2
    assert [a.title for a in agreement.areas] == EXPECTED["areas"]
    assert [e.title for a in agreement.areas for e in a.efforts] == EXPECTED["efforts"]
    units = {u.id: u.name for u in agreement.units}
    drafted: dict[str, dict[str, str]] = {}
    for _, effort, party, spec in agreement.commitments():
        drafted.setdefault(effort.title, {})[party] = units[spec.responsible]
    assert drafted == EXPECTED["commitments"]  # no commitment where the party's cell is empty
    efforts = {e.title: e for a in agreement.areas for e in a.efforts}
    assert (efforts["Cykelhjälm"].timeframe.start, efforts["Cykelhjälm"].timeframe.end) == (
        date(2025, 1, 1),
        date(2025, 12, 31),
    )
    assert efforts["Hastighet vid skolor"].measures[0].target == 4
    assert [m.text for m in efforts["Nattvandring"].measures] == ["Antal nattvandringar", "Antal deltagare"]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "bild.docx", "bild.docx: är inget Word-dokument"),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
            "bild.txt",
            "bild.txt: är inget dokument som går att läsa",
        ),
        (b"", "tom.docx", "tom.docx: filen är tom"),
        (b"  \n\n", "tom.txt", "tom.txt: filen är tom"),
        (b"PK\x03\x04trasig", "trasig.docx", "trasig.docx: är inget Word-dokument (zip-filen är trasig)"),
        (
            "Samverkansöverenskommelse\n\nInga tabeller här.\n".encode(),
            "plan.txt",
            "plan.txt: hittar ingen åtagandeplan",
        ),
    ],
)
def test_what_is_not_a_document_with_a_plan_is_one_swedish_line(data: bytes, name: str, message: str) -> None:
    with pytest.raises(DocumentError) as refused:
        draft_file(data, name, agreement_id=None, today=TODAY)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


def test_an_opendocument_file_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.odt"
    with zipfile.ZipFile(path, "w") as odt:
        odt.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        odt.writestr("content.xml", "<office:document-content/>")
    with pytest.raises(DocumentError, match=r"plan.odt: OpenDocument \(.odt\) stöds inte"):
        draft_file(path.read_bytes(), "plan.odt", agreement_id=None, today=TODAY)


def test_a_word_file_without_a_plan_table_is_refused() -> None:
    document = docx.Document()
    document.add_paragraph("Samverkansöverenskommelse utan åtagandeplan")
    out: Any = io.BytesIO()
    document.save(out)
    with pytest.raises(DocumentError, match="hittar ingen åtagandeplan"):
        draft_file(out.getvalue(), "utan.docx", agreement_id=None, today=TODAY)


def test_a_word_plan_with_unnumbered_headings_a_title_row_and_a_merged_timeframe_cell() -> None:
    document = docx.Document()
    document.add_paragraph("Samverkansöverenskommelse mellan Lilla kommun och Polismyndigheten, lokalpolisområde Lilla")
    document.add_paragraph("Överenskommelsen gäller tills vidare.")
    for area in ("Trygga parker", "Färre inbrott"):
        document.add_heading(area, level=2)  # Word numbers it; the text has no number
        table = document.add_table(rows=4, cols=4)
        table.rows[0].cells[0].merge(table.rows[0].cells[3]).text = "Åtagandeplan"
        for i, text in enumerate(("Insats/mål", "Kommunens åtagande", "Polisens åtagande", "Tidsplan")):
            table.rows[1].cells[i].text = text
        for r in (2, 3):
            table.rows[r].cells[0].text = f"{area}, insats {r - 1}"
            table.rows[r].cells[1].text = "Gatukontoret ansvarar för belysningen."
            table.rows[r].cells[2].text = "Patrullera."
        table.rows[2].cells[3].merge(table.rows[3].cells[3]).text = "2025-2026"
    out = io.BytesIO()
    document.save(out)
    imported = draft_file(out.getvalue(), "lilla.docx", agreement_id=None, today=TODAY)
    agreement = parse_agreement(imported.text, "lilla.yaml")
    assert [(a.number, a.title) for a in agreement.areas] == [(1, "Trygga parker"), (2, "Färre inbrott")]
    efforts = [e for a in agreement.areas for e in a.efforts]
    assert [e.title for e in efforts] == [
        "Trygga parker, insats 1",
        "Trygga parker, insats 2",
        "Färre inbrott, insats 1",
        "Färre inbrott, insats 2",
    ]
    assert all((e.timeframe.start, e.timeframe.end) == (date(2025, 1, 1), date(2026, 12, 31)) for e in efforts)
    assert {u.name for u in agreement.units} >= {"Gatukontoret"}
    assert "numret är räknat i ordning" in imported.text
