"""The revision in forms: every decision at once, the revised plan as a draft, adopted as an upload is.

A draft adopted is the plan version the same document uploaded as a file makes: the same
version, document, hash, list of changes and `plan diff`, and the same moves of every
commitment (engine.drafts, engine.revisions.decide_all).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from engine import db
from engine.agreement import Agreement, parse_agreement
from engine.api import commands, commands_revision, pages_revision, queries
from engine.drafts import DraftInvalid
from engine.models import Commitment, PlanVersion, Revision, RevisionDecision, UnitRow
from engine.plan import load_plan
from engine.revisions import DecisionsInvalid

STHLM = ZoneInfo("Europe/Stockholm")
NOW = datetime(2027, 10, 1, 10, tzinfo=STHLM)
MBU = "boras.mbu.kommun"


def _open(engine: Engine, boras: Agreement) -> list[str]:
    """Borås loaded in November 2026 and revision 4 opened on 1 October 2027: the live commitments."""
    with db.transaction(engine) as s:
        load_plan(s, boras, now=datetime(2026, 11, 24, 9, tzinfo=STHLM))
    commands.open_revision(engine, by="BråB", now=NOW)
    with db.transaction(engine) as s:
        return sorted(s.scalars(select(Commitment.id).where(Commitment.state != "avslutad")))


def _rows(live: list[str]) -> list[tuple[str, str, str]]:
    return [(c, "remove" if ".tobakstillsyn." in c else "change" if ".mbu." in c else "keep", "Beslut.") for c in live]


def _edit(engine: Engine) -> None:
    """One commitment and its effort's target changed, one effort added, the term changed."""
    commands_revision.edit_draft_effort(
        engine,
        "boras",
        "mbu",
        {"commitments.kommun.text": "Finansiera och följa upp utbildningen.", "measures.utbildningar.target": "3"},
        by="BråB",
        now=NOW,
    )
    commands_revision.add_draft_effort(
        engine,
        "boras",
        {
            "area": "struktur",
            "title": "Trygg natt",
            "timeframe.text": "Varje helg 2028–2030",
            "timeframe.start": "2028-01-01",
            "commitments.kommun.text": "Nattvandra med föreningar.",
            "commitments.kommun.responsible": "fritid-folkhalsa",
            "measure.text": "Antal nattvandringar",
            "measure.target": "20",
        },
        by="BråB",
        now=NOW,
    )
    commands_revision.set_draft_term(
        engine, "boras", {"valid_from": "", "valid_to": "2030-12-31", "every_years": "2"}, by="BråB", now=NOW
    )


def _state(engine: Engine) -> dict[str, Any]:
    with db.transaction(engine) as s:
        return {
            "versions": [
                (v.version, v.config_hash, v.document, v.changes)
                for v in s.scalars(select(PlanVersion).order_by(PlanVersion.version))
            ],
            "commitments": sorted((c.id, c.state, c.period, c.text) for c in s.scalars(select(Commitment))),
            "decisions": s.scalar(select(func.count()).select_from(RevisionDecision)),
            "draft": [r.draft for r in s.scalars(select(Revision))],
        }


def test_one_bad_row_refuses_the_whole_decision_form_and_nothing_is_written(engine: Engine, boras: Agreement) -> None:
    live = _open(engine, boras)
    before = _state(engine)
    rows = _rows(live)
    rows[0] = (rows[0][0], "keep", "  ")
    rows[1] = (rows[1][0], "behåll", "Fungerar.")
    with pytest.raises(DecisionsInvalid) as refused:
        commands_revision.decide_all(engine, "boras", rows, by="BråB", now=NOW)
    assert {k: (p.field, p.message) for k, p in refused.value.problems.items()} == {  # type: ignore[attr-defined]
        live[0]: ("text", "skriv en motivering"),
        live[1]: ("decision", "välj behålls, ändras eller tas bort"),
    }
    assert _state(engine) == before


def test_the_decision_form_records_each_row_once_and_leaves_blank_rows_undecided(
    engine: Engine, boras: Agreement
) -> None:
    live = _open(engine, boras)
    rows = [*_rows(live)[:-1], (live[-1], "", "")]
    assert len(commands_revision.decide_all(engine, "boras", rows, by="BråB", now=NOW)) == len(live) - 1
    status = queries.revision_status(engine)
    assert status.revision is not None and status.revision.undecided == 1
    # The same form sent again records nothing new; one changed row is recorded alone.
    assert commands_revision.decide_all(engine, "boras", rows, by="BråB", now=NOW) == ()
    again = commands_revision.decide_all(engine, "boras", [(live[0], "change", "Ny motivering.")], by="BråB", now=NOW)
    assert [(d.commitment, d.decision) for d in again] == [(live[0], "change")]
    assert _state(engine)["decisions"] == len(live)


def test_a_draft_adopted_is_the_plan_the_same_document_uploaded_makes(
    engine: Engine, boras: Agreement, tmp_path: Path
) -> None:
    live = _open(engine, boras)
    commands_revision.decide_all(engine, "boras", _rows(live), by="BråB", now=NOW)
    _edit(engine)
    view = pages_revision.draft_view(engine, None)
    assert view is not None and view.problems == () and view.digest is not None
    assert view.changes == (
        "överenskommelsen: valid_to ändrat från null till 2030-12-31",
        'schemat: revision ändrat från {"every_years": 3, "kickoff_days_before": 60, "late_repea... '
        'till {"every_years": 2, "kickoff_days_before": 60, "late_repea...',
        "ny insats trygg-natt",
        "insats tobakstillsyn borttagen",
        "insats mbu: aktivitetsmått ändrad",
        f"åtagande {MBU}: texten ändrad",
    )
    file = pages_revision.draft_file(engine, None)
    assert file is not None

    other = db.connect(f"sqlite:///{tmp_path / 'fil.db'}")
    db.upgrade(other)
    try:
        _open(other, boras)
        commands_revision.decide_all(other, "boras", _rows(live), by="BråB", now=NOW)
        uploaded = commands.complete_revision(other, parse_agreement(file.text, "utkast.yaml"), by="BråB", now=NOW)
        adopted = commands_revision.adopt_draft(engine, "boras", reviewed=view.digest, by="BråB", now=NOW)
        assert adopted == uploaded
        assert (adopted.plan_version, adopted.added, adopted.ended) == (
            2,
            ["boras.trygg-natt.kommun"],
            ["boras.tobakstillsyn.kommun", "boras.tobakstillsyn.polis"],
        )
        mine, theirs = _state(engine), _state(other)
        assert (mine["versions"], mine["commitments"]) == (theirs["versions"], theirs["commitments"])
        assert queries.plan_diff(engine, 1, 2) == queries.plan_diff(other, 1, 2) == view.changes
        with db.transaction(engine) as s:
            assert s.get(Commitment, MBU).text == "Finansiera och följa upp utbildningen."  # type: ignore[union-attr]
    finally:
        other.dispose()


def test_a_refused_edit_is_placed_beside_its_field_and_nothing_is_kept(engine: Engine, boras: Agreement) -> None:
    _open(engine, boras)
    before = _state(engine)
    cases: list[tuple[Any, dict[str, str]]] = [
        (
            lambda: commands_revision.edit_draft_effort(
                engine, "boras", "mbu", {"measures.utbildningar.target": "två", "title": " "}, by="B", now=NOW
            ),
            {"measures.utbildningar.target": "målvärdet 'två' är inte ett tal", "title": "får inte vara tom"},
        ),
        (
            # A cross-check, not the schema: the unit does not exist.
            lambda: commands_revision.edit_draft_effort(
                engine, "boras", "mbu", {"commitments.polis.responsible": "ingen-sadan"}, by="B", now=NOW
            ),
            {"commitments.polis.responsible": "okänd enhet 'ingen-sadan' (finns inte under units)"},
        ),
        (
            lambda: commands_revision.set_draft_term(
                engine, "boras", {"valid_from": "", "valid_to": "2015-01-01", "every_years": "0"}, by="B", now=NOW
            ),
            {"every_years": "värdet 0 ska vara minst 1"},
        ),
        (
            lambda: commands_revision.set_draft_term(
                engine, "boras", {"valid_from": "", "valid_to": "2015-01-01", "every_years": "3"}, by="B", now=NOW
            ),
            {"valid_to": "giltig till ligger före giltig från"},
        ),
        (
            lambda: commands_revision.add_draft_effort(
                engine, "boras", {"area": "struktur", "title": "MBU", "id": "mbu"}, by="B", now=NOW
            ),
            {"commitments.kommun.text": "skriv minst ett åtagande"},
        ),
    ]
    for call, fields in cases:
        with pytest.raises(DraftInvalid) as refused:
            call()
        assert refused.value.fields == fields
        assert _state(engine) == before


def test_a_contact_changed_during_the_revision_stays_in_the_adopted_plan(engine: Engine, boras: Agreement) -> None:
    live = _open(engine, boras)
    commands_revision.decide_all(engine, "boras", _rows(live), by="BråB", now=NOW)
    _edit(engine)
    unit = commands.change_unit(
        engine, "boras", "tekniska", name="Tekniska förvaltningen", email="teknik.ny@boras.example", by="B", now=NOW
    )
    assert unit.plan_version == 2
    view = pages_revision.draft_view(engine, None)
    assert view is not None and view.digest is not None
    assert not any("tekniska" in line for line in view.changes)  # the draft keeps the change, it does not undo it
    commands_revision.adopt_draft(engine, "boras", reviewed=view.digest, by="BråB", now=NOW)
    with db.transaction(engine) as s:
        assert s.get(UnitRow, ("boras", "tekniska")).email == "teknik.ny@boras.example"  # type: ignore[union-attr]


def test_adopting_a_draft_other_than_the_one_reviewed_is_refused(engine: Engine, boras: Agreement) -> None:
    live = _open(engine, boras)
    commands_revision.decide_all(engine, "boras", _rows(live), by="BråB", now=NOW)
    view = pages_revision.draft_view(engine, None)
    assert view is not None and view.digest is not None
    _edit(engine)
    before = _state(engine)
    with pytest.raises(commands.InvalidValue, match="granska dem igen"):
        commands_revision.adopt_draft(engine, "boras", reviewed=view.digest, by="BråB", now=NOW)
    assert _state(engine) == before
