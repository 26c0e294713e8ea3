"""A full revision: kick-off opens it, decisions per commitment, a new plan version, the next date."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from engine import db, service
from engine.agreement import Agreement, parse_agreement
from engine.models import AgreementRow, OutboxRow, Revision
from engine.plan import load_plan
from engine.revisions import complete, decide, open_revision, plan_diff
from engine.tick import next_wakeup, tick
from rules.errors import SamverkanError
from samverkan.cli import main

STHLM = ZoneInfo("Europe/Stockholm")
BORAS = Path(__file__).resolve().parents[2] / "config" / "boras-2015.yaml"


def at(y: int, m: int, d: int, hh: int = 9) -> datetime:
    return datetime(y, m, d, hh, tzinfo=STHLM)


def revised_plan() -> Agreement:
    """MBU kept, Narkotika changed (new polis text), Tobakstillsyn removed, a new insats added."""
    text = BORAS.read_text(encoding="utf-8")
    start = text.index("      - id: tobakstillsyn")
    end = text.index("  - id: organiserad")
    tobak = text[start:end]
    new_effort = (
        tobak.replace("id: tobakstillsyn", "id: trygg-natt")
        .replace("title: Tobakstillsyn", "title: Trygg natt")
        .replace("Gemensam tillsyn med polisen.", "Nattvandringar med föreningar.")
    )
    text = text[:start] + new_effort + text[end:]
    text = text.replace("Spaningsarbete och lagföring av narkotikabrott.", "Spaning, lagföring och föräldramöten.")
    return parse_agreement(text, "boras-2028.yaml")


@pytest.fixture
def kicked_off(engine: Engine, boras: Agreement) -> Engine:
    with db.transaction(engine) as s:
        load_plan(s, boras, now=at(2026, 11, 24))
    tick(engine, at(2026, 11, 24))
    # Revision 4 is due 2027-12-14; its kick-off (60 days before) is Friday 2027-10-15.
    report = tick(engine, at(2027, 10, 15, 8))
    assert any(getattr(e, "notice", None) and e.notice.kind == "revision_kickoff" for e in report.events)  # type: ignore[union-attr]
    return engine


def test_the_kickoff_opens_the_revision(kicked_off: Engine) -> None:
    with db.transaction(kicked_off) as s:
        rev = s.scalars(select(Revision)).one()
    assert (rev.number, str(rev.due), rev.opened_by, rev.completed_at) == (4, "2027-12-14", "regel:revision", None)


def test_revision_start_by_hand_is_the_same_revision_and_the_same_kickoff(kicked_off: Engine) -> None:
    with db.transaction(kicked_off) as s:
        rev = open_revision(s, by="BråB", now=at(2027, 10, 16))
        kickoffs = s.scalars(select(OutboxRow).where(OutboxRow.kind == "revision_kickoff")).all()
    assert rev.number == 4 and len(kickoffs) == 1


def decide_all(engine: Engine, *, skip: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    with db.transaction(engine) as s:
        for row in service.status(s):
            if row.state == "avslutad" or row.id in skip:
                continue
            effort = row.id.split(".")[1]
            decision = {"narkotika": "change", "tobakstillsyn": "remove"}.get(effort, "keep")
            decide(s, row.id, decision, text=f"beslut för {effort}", by="BråB", now=at(2027, 11, 20))


def test_completing_with_undecided_commitments_is_refused_and_lists_them(kicked_off: Engine) -> None:
    decide_all(kicked_off, skip={"boras.vbe.polis", "boras.mbu.kommun"})
    with (
        pytest.raises(SamverkanError, match=re.escape("2 åtaganden saknar beslut: boras.mbu.kommun, boras.vbe.polis")),
        db.transaction(kicked_off) as s,
    ):
        complete(s, revised_plan(), by="BråB", now=at(2027, 12, 10))
    with db.transaction(kicked_off) as s:
        assert s.get(AgreementRow, "boras").plan_version == 1  # type: ignore[union-attr]


def test_a_file_that_contradicts_a_decision_is_refused(kicked_off: Engine, boras: Agreement) -> None:
    decide_all(kicked_off)
    with (
        pytest.raises(
            SamverkanError, match=re.escape("boras.tobakstillsyn.kommun ska tas bort men finns kvar i filen")
        ),
        db.transaction(kicked_off) as s,
    ):
        complete(s, boras, by="BråB", now=at(2027, 12, 10))


def test_a_full_revision_cycle_adopts_the_new_plan_and_schedules_the_next(kicked_off: Engine) -> None:
    decide_all(kicked_off)
    with db.transaction(kicked_off) as s:
        assert {r.state for r in service.status(s) if r.state != "avslutad"} == {"reviderad"}
        done = complete(s, revised_plan(), by="BråB", now=at(2027, 12, 10))
    assert (done.revision, done.plan_version, str(done.next_due)) == (4, 2, "2030-12-16")  # 14 Dec 2030 is a Saturday
    assert done.ended == ["boras.tobakstillsyn.kommun", "boras.tobakstillsyn.polis"]
    assert done.added == ["boras.trygg-natt.kommun", "boras.trygg-natt.polis"]
    with db.transaction(kicked_off) as s:
        states = {r.id: r.state for r in service.status(s)}
        rev = s.scalars(select(Revision)).one()
        agreement = s.get(AgreementRow, "boras")
        # The deadline: 14 December 2030 is a Saturday.
        assert agreement is not None and (agreement.revision_number, str(agreement.revision_due)) == (5, "2030-12-16")
    assert states["boras.mbu.kommun"] == states["boras.narkotika.polis"] == "pågående"
    assert states["boras.tobakstillsyn.kommun"] == "avslutad"
    assert states["boras.trygg-natt.kommun"] == "planerad"
    assert (rev.completed_at, rev.plan_version_after) == (at(2027, 12, 10), 2)
    with db.transaction(kicked_off) as s:
        _, history = service.history(s, "narkotika.polis")
    assert [h.trigger for h in history][-2:] == ["revise", "reinstate"]


def test_plan_diff_shows_what_the_revision_changed(kicked_off: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    decide_all(kicked_off)
    with db.transaction(kicked_off) as s:
        complete(s, revised_plan(), by="BråB", now=at(2027, 12, 10))
        lines = plan_diff(s, 1, 2)
    assert "ny insats trygg-natt" in lines
    assert "insats tobakstillsyn borttagen" in lines
    assert "åtagande boras.narkotika.polis: texten ändrad" in lines
    url = kicked_off.url.render_as_string(hide_password=False)
    assert main(["plan", "diff", "1", "2", "--db", url]) == 0
    assert "ny insats trygg-natt" in capsys.readouterr().out
    assert main(["plan", "diff", "1", "9", "--db", url]) == 2
    assert "planversion 9 finns inte (finns: 1, 2)" in capsys.readouterr().err


def test_the_revision_commands_from_the_cli(
    kicked_off: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = kicked_off.url.render_as_string(hide_password=False)
    assert main(["revision", "decide", "mbu.kommun", "behall", "--text", "x", "--db", url]) == 2
    assert "'behall' (giltiga: keep, change, remove)" in capsys.readouterr().err
    assert main(["revision", "decide", "mbu.kommun", "keep", "--text", "Fortsätter", "--db", url]) == 0
    assert main(["revision", "status", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "Revidering 4 pågår" in out and "boras.mbu.kommun: behålls – Fortsätter" in out
    new = tmp_path / "ny.yaml"
    new.write_text(BORAS.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["revision", "complete", "--config", str(new), "--db", url]) == 2
    assert "27 åtaganden saknar beslut" in capsys.readouterr().err


def test_a_revision_never_reopens_a_reported_period(engine: Engine, boras: Agreement) -> None:
    """MBU kommun reported 2026 before the revision: once the plan is adopted it waits for 2027, not 2026."""
    with db.transaction(engine) as s:
        load_plan(s, boras, now=at(2026, 11, 24))
    tick(engine, at(2026, 11, 24))
    with db.transaction(engine) as s:
        service.record_follow_up(
            s, "mbu.kommun", period=2026, values={"utbildningar": 2}, comment="Två", by="BråB", now=at(2027, 3, 20)
        )
    tick(engine, at(2027, 10, 15, 8))  # the kick-off of revision 4 opens it
    decide_all(engine)
    with db.transaction(engine) as s:
        complete(s, revised_plan(), by="BråB", now=at(2027, 12, 10))
    with db.transaction(engine) as s:
        c = service.resolve_commitment(s, "mbu.kommun")
        assert (c.state, c.period, str(c.next_due)) == ("pågående", 2027, "2028-03-31")
    # Through the 2027 cycle: reminders for 2027, never an overdue notice or escalation for 2026 again.
    t = at(2027, 12, 10)
    while (t := next_wakeup(engine)) is not None and t < at(2028, 6, 1):
        tick(engine, t)
    with db.transaction(engine) as s:
        mbu = s.scalars(select(OutboxRow.key).where(OutboxRow.commitment_id == "boras.mbu.kommun")).all()
    assert not [k for k in mbu if k.startswith(("overdue:", "escalation:")) and ":2026" in k]
    assert {k for k in mbu if k.startswith("reminder:") and ":2027:" in k} == {
        f"reminder:boras.mbu.kommun:2027:{off}" for off in (-30, -7, 0)
    }
    with db.transaction(engine) as s:  # and the unit can report 2027, which it could not if 2026 were reopened
        service.record_follow_up(
            s, "mbu.kommun", period=2027, values={"utbildningar": 2}, comment="Två", by="BråB", now=at(2028, 6, 1)
        )
