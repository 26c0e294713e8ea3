"""Loading the agreement file into the database: first load, the same file again, an edited file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from engine import db
from engine.agreement import Agreement, load_agreement, parse_agreement
from engine.models import AgreementRow, AreaRow, Commitment, EffortRow, PlanVersion, TransitionRecord, UnitRow
from engine.plan import document_of, load_plan


def _count(engine: Engine, model: type) -> int:
    with db.transaction(engine) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_boras_loads_4_areas_15_efforts_30_commitments(loaded: Engine) -> None:
    assert _count(loaded, AreaRow) == 4
    assert _count(loaded, EffortRow) == 15
    assert _count(loaded, Commitment) == 30
    with db.transaction(loaded) as s:
        parties = sorted(s.scalars(select(Commitment.party)))
    assert parties == ["kommun"] * 15 + ["polis"] * 15


def test_every_boras_commitment_has_a_responsible_unit_with_an_address(loaded: Engine) -> None:
    with db.transaction(loaded) as s:
        rows = s.execute(
            select(Commitment.id, UnitRow.email, UnitRow.party, Commitment.party).join(
                UnitRow, (UnitRow.agreement_id == Commitment.agreement_id) & (UnitRow.id == Commitment.responsible)
            )
        ).all()
    assert len(rows) == 30
    for cid, email, unit_party, party in rows:
        assert "@" in email and email.endswith(".example"), cid
        assert unit_party == party, f"{cid}: the responsible unit belongs to the other party"


def test_boras_starts_planned_with_the_2016_follow_up_due_in_2017(loaded: Engine) -> None:
    with db.transaction(loaded) as s:
        c = s.get(Commitment, "boras.mbu.kommun")
        trafik = s.get(Commitment, "boras.trafik.polis")
    assert c is not None and trafik is not None
    assert (c.state, c.period, str(c.next_due)) == ("planerad", 2016, "2017-03-31")
    assert (trafik.period, str(trafik.next_due)) == (2016, "2017-03-31")


def test_boras_targets_come_from_the_plan(boras: Agreement) -> None:
    targets = {(e.id, m.id): m.target for _, e in boras.efforts() for m in e.measures if m.target is not None}
    assert targets[("mbu", "utbildningar")] == 2
    assert targets[("alkoholservering", "utbildningar")] == 1


def test_loading_the_same_file_again_changes_nothing(loaded: Engine, boras: Agreement, now: datetime) -> None:
    with db.transaction(loaded) as s:
        before = s.get(AgreementRow, "boras")
        assert before is not None
        loaded_at = before.loaded_at
    with db.transaction(loaded) as s:
        result = load_plan(s, boras, now=now + timedelta(days=3))
    assert (result.created, result.changes, result.plan_version) == (False, [], 1)
    with db.transaction(loaded) as s:
        after = s.get(AgreementRow, "boras")
        assert after is not None and after.loaded_at == loaded_at
    assert _count(loaded, PlanVersion) == 1


def test_a_file_without_the_optional_clauses_keeps_the_stored_document_and_its_hash(
    minimal: Agreement, boras: Agreement
) -> None:
    # Files written before the clauses existed must not look edited to `init` after an upgrade.
    assert set(document_of(minimal)["agreement"]) == {
        "id",
        "title",
        "signed",
        "valid_from",
        "valid_to",
        "timezone",
        "process_owner",
    }
    assert document_of(boras)["agreement"]["termination_clause"] == (
        "Vardera part har rätt att säga upp överenskommelsen."
    )


def _edited(boras_path: Path, *replacements: tuple[str, str]) -> Agreement:
    text = boras_path.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return parse_agreement(text, "edited.yaml")


def test_an_edited_file_becomes_the_next_plan_version_and_says_what_changed(loaded: Engine, now: datetime) -> None:
    boras_path = Path(__file__).resolve().parents[2] / "config" / "boras-2015.yaml"
    edited = _edited(
        boras_path, ('due: "03-31"', 'due: "04-30"'), ("fritid-folkhalsa@boras.example", "fof@boras.example")
    )
    with db.transaction(loaded) as s:
        result = load_plan(s, edited, now=now)
    assert result.plan_version == 2
    assert any("due" in line for line in result.changes)
    assert any("enhet fritid-folkhalsa: email" in line for line in result.changes)
    with db.transaction(loaded) as s:
        c = s.get(Commitment, "boras.mbu.kommun")
        unit = s.get(UnitRow, ("boras", "fritid-folkhalsa"))
        assert c is not None and str(c.next_due) == "2017-05-02"  # 30 April 2017 is a Sunday, 1 May a holiday
        assert unit is not None and unit.email == "fof@boras.example"
    assert _count(loaded, PlanVersion) == 2


def test_a_commitment_removed_from_the_file_is_ended_in_the_history(engine: Engine, minimal: Agreement) -> None:
    now = datetime(2020, 3, 1, 12, tzinfo=UTC)
    with db.transaction(engine) as s:
        load_plan(s, minimal, now=now)
    doc = minimal.model_dump(mode="json")
    doc["areas"][1]["efforts"][0]["commitments"]["polis"] = {"text": "Ny tillsyn.", "responsible": "kommunpolis"}
    del doc["areas"][0]["efforts"][1]  # trafik
    edited = Agreement.model_validate(doc)
    with db.transaction(engine) as s:
        result = load_plan(s, edited, now=now)
    assert "nytt åtagande exempel.tillsyn.polis (planerat)" in result.changes
    assert "åtagande exempel.trafik.kommun finns inte längre i filen: avslutat" in result.changes
    with db.transaction(engine) as s:
        states = {cid: st for cid, st in s.execute(select(Commitment.id, Commitment.state))}
        log = s.scalars(select(TransitionRecord).where(TransitionRecord.commitment_id == "exempel.trafik.polis")).all()
    assert states["exempel.trafik.kommun"] == states["exempel.trafik.polis"] == "avslutad"
    assert states["exempel.tillsyn.polis"] == "planerad"
    assert [(r.trigger, r.by) for r in log] == [("end", "samverkan init")]


def test_two_agreements_live_in_one_database(
    engine: Engine, boras: Agreement, minimal: Agreement, now: datetime
) -> None:
    with db.transaction(engine) as s:
        load_plan(s, boras, now=now)
        load_plan(s, minimal, now=now)
    assert _count(engine, AgreementRow) == 2
    assert _count(engine, Commitment) == 35


@pytest.mark.parametrize("name", ["minimal.yaml"])
def test_a_29_february_due_date_falls_on_28_february_or_the_next_working_day(engine: Engine, name: str) -> None:
    agreement = load_agreement(Path(__file__).resolve().parents[1] / "data" / name)
    with db.transaction(engine) as s:
        load_plan(s, agreement, now=datetime(2020, 3, 1, 12, tzinfo=UTC))
        c = s.get(Commitment, "exempel.vandringar.kommun")
        assert c is not None
        # Report for 2020 due "02-29" of 2021 → 28 Feb 2021 (a Sunday) → Monday 1 March.
        assert str(c.next_due) == "2021-03-01"


def test_loaded_today_the_engine_takes_over_from_the_next_report_due(
    engine: Engine, boras: Agreement, now: datetime
) -> None:
    """Loading the 2015 agreement on 2026-11-24 must not chase ten years of old reports."""
    with db.transaction(engine) as s:
        load_plan(s, boras, now=now)
    with db.transaction(engine) as s:
        rows = {c.id: c for c in s.scalars(select(Commitment))}
        agreement = s.get(AgreementRow, "boras")
        trafik_log = s.scalars(
            select(TransitionRecord).where(TransitionRecord.commitment_id == "boras.trafik.kommun")
        ).all()
    assert agreement is not None and (agreement.revision_number, str(agreement.revision_due)) == (4, "2027-12-14")
    running = [c for cid, c in rows.items() if ".trafik." not in cid]
    assert {(c.state, c.period, str(c.next_due)) for c in running} == {("planerad", 2026, "2027-03-31")}
    # Trafik 2016–2018 was over before the engine arrived: ended, and the history says why.
    assert {rows[f"boras.trafik.{p}"].state for p in ("kommun", "polis")} == {"avslutad"}
    assert [(r.trigger, r.by) for r in trafik_log] == [("end", "samverkan init")]
    assert "före inläsningen" in trafik_log[0].why
