"""A fixed-term agreement (valid_to) ends cleanly: revisions within the term, the last period asked for, then the end.

tests/data/fixed_term.yaml: signed Friday 2021-01-15, valid to 2023-12-31, revised every 2 years.
Revision 1 is due 2023-01-16 (the anniversary is a Sunday); revision 2, the renewal prompt, would
fall on 2025-01-15, after the term, so it is due on the term's last working day, Friday 2023-12-29.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from engine import db, service
from engine.agreement import Agreement, load_agreement, parse_agreement
from engine.models import AgreementRow, Commitment, OutboxRow
from engine.plan import load_plan
from engine.revisions import complete, decide
from engine.simulate import simulate
from engine.tick import next_wakeup, tick
from samverkan.cli import main

STHLM = ZoneInfo("Europe/Stockholm")
FILE = Path(__file__).resolve().parents[1] / "data" / "fixed_term.yaml"


def at(y: int, m: int, d: int, hh: int = 9) -> datetime:
    return datetime(y, m, d, hh, tzinfo=STHLM)


@pytest.fixture(scope="module")
def fixed() -> Agreement:
    return load_agreement(FILE)


def renewed(valid_to: str) -> Agreement:
    text = FILE.read_text(encoding="utf-8").replace("valid_to: 2023-12-31", f"valid_to: {valid_to}")
    return parse_agreement(text, "fixed_term_renewed.yaml")


def run_until(engine: Engine, end: datetime) -> None:
    while (t := next_wakeup(engine)) is not None and t < end:
        tick(engine, t)


def revise_all(engine: Engine, plan: Agreement, now: datetime) -> None:
    with db.transaction(engine) as s:
        for row in service.status(s):
            if row.state != "avslutad":
                decide(s, row.id, "keep", text="fortsätter", by="BRÅ", now=now)
    with db.transaction(engine) as s:
        complete(s, plan, by="BRÅ", now=now)


def test_revisions_of_a_fixed_term_come_from_signing_and_the_last_completed_leaves_none(
    engine: Engine, fixed: Agreement, capsys: pytest.CaptureFixture[str]
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    with db.transaction(engine) as s:
        load_plan(s, fixed, now=at(2021, 1, 15))
        row = s.get(AgreementRow, "tidsbegransad")
        assert row is not None and (row.revision_number, row.revision_due) == (1, date(2023, 1, 16))
    run_until(engine, at(2023, 1, 16, 12))  # revision 1's kick-off opens it
    revise_all(engine, fixed, at(2023, 1, 16, 12))
    with db.transaction(engine) as s:
        row = s.get(AgreementRow, "tidsbegransad")
        assert row is not None and (row.revision_number, row.revision_due) == (2, date(2023, 12, 29))
    run_until(engine, at(2023, 12, 29, 12))
    revise_all(engine, fixed, at(2023, 12, 29, 12))
    with db.transaction(engine) as s:
        row = s.get(AgreementRow, "tidsbegransad")
        assert row is not None and (row.revision_number, row.revision_due) == (3, None)
    assert main(["revision", "status", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "Ingen revidering återstår: överenskommelsen gäller till och med 31 december 2023." in out
    # Nothing about revisions is ever queued after the term, however long the engine runs on.
    run_until(engine, at(2026, 1, 1))
    with db.transaction(engine) as s:
        late = s.scalars(select(OutboxRow.key).where(OutboxRow.kind.in_(["revision_kickoff", "revision_overdue"])))
        assert sorted(late) == ["revision_kickoff:tidsbegransad:1", "revision_kickoff:tidsbegransad:2"]


def test_an_unfinished_last_revision_gets_no_late_notice_after_the_term(engine: Engine, fixed: Agreement) -> None:
    with db.transaction(engine) as s:
        load_plan(s, fixed, now=at(2023, 3, 1))  # revision 1 already past: the engine takes over with revision 2
        row = s.get(AgreementRow, "tidsbegransad")
        assert row is not None and (row.revision_number, row.revision_due) == (2, date(2023, 12, 29))
    for day in (at(2023, 12, 29, 8), at(2024, 1, 2, 8), at(2024, 2, 1, 8), at(2024, 6, 3, 8)):
        tick(engine, day)
    with db.transaction(engine) as s:
        kinds = Counter(s.scalars(select(OutboxRow.kind)))
    assert kinds["revision_kickoff"] == 1 and kinds["revision_overdue"] == 0


def test_after_the_term_the_last_period_is_asked_for_then_every_commitment_ends(fixed: Agreement) -> None:
    events = list(simulate([fixed], date(2021, 1, 15), date(2027, 12, 31)))  # it ends: no endless loop
    reminders = {(e.commitment, e.details["period"]) for e in events if e.kind == "reminder"}
    assert ("tidsbegransad.vandringar.kommun", 2023) in reminders  # the last period, reminded in March 2024
    assert not [r for r in reminders if r[1] > 2023]
    ends = {e.commitment: e.at.date() for e in events if e.kind == "transition" and e.details["to"] == "avslutad"}
    assert set(ends) == {
        f"tidsbegransad.{x}"
        for x in ("vandringar.kommun", "vandringar.polis", "trafik.kommun", "trafik.polis", "tillsyn.kommun")
    }
    last_end = max(ends.values())
    assert last_end == date(2024, 4, 2)  # 2023 reported on its due day, Tuesday 2 April 2024 (Easter Monday on 1st)
    assert not [e for e in events if e.kind != "transition" and e.at.date() > last_end]
    assert not [e for e in events if e.kind.startswith("revision") and e.at.date() > date(2023, 12, 31)]


def test_never_reported_the_last_period_is_asked_for_until_the_process_owner_closes_the_agreement(
    engine: Engine, fixed: Agreement, capsys: pytest.CaptureFixture[str]
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    with db.transaction(engine) as s:
        load_plan(s, fixed, now=at(2023, 6, 1))
    run_until(engine, at(2024, 5, 2))
    with db.transaction(engine) as s:
        overdue = s.scalars(select(OutboxRow.key).where(OutboxRow.kind == "overdue", OutboxRow.state == "pending"))
        assert [k for k in overdue if ":2023:" in k]  # still asked for 2023 after the term
    before = {r.key: r.state for r in _outbox(engine)}
    assert main(["close", "--db", url, "--by", "BRÅ", "--why", "ny överenskommelse", "--now", "2023-12-20T10:00"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("samverkan: fel: --agreement: tidsbegransad gäller till och med 31 december 2023")
    assert len(err.splitlines()) == 1 and {r.key: r.state for r in _outbox(engine)} == before
    assert main(["close", "--db", url, "--by", "BRÅ", "--why", "ny överenskommelse", "--now", "2024-05-02T10:00"]) == 0
    assert "3 åtaganden avslutade" in capsys.readouterr().out  # Trafik (2021–2022) ended when it was loaded
    with db.transaction(engine) as s:
        assert set(s.scalars(select(Commitment.state))) == {"avslutad"}
    after = _outbox(engine)
    assert not [(r.key, r.send_at) for r in after if r.state == "pending"]
    assert {r.last_error for r in after if r.state == "withdrawn"} == {
        "åtagandet är avslutat",  # the overdue notices
        "inga åtaganden är kvar i överenskommelsen",  # the weekly summary
        "överenskommelsens giltighetstid löpte ut 31 december 2023",  # revision 2's kick-off, never delivered
    }
    tick(engine, at(2024, 6, 3, 8))
    assert len(_outbox(engine)) == len(after)  # nothing is queued for it again


def test_an_open_ended_agreement_cannot_be_closed_only_terminated(
    loaded: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    url = loaded.url.render_as_string(hide_password=False)
    assert main(["close", "--db", url, "--by", "BråB", "--why", "x"]) == 2
    assert "boras gäller tills vidare; en part säger upp den med 'samverkan terminate'" in capsys.readouterr().err


def test_a_renewal_continues_the_same_agreement_and_its_revisions_from_signing(
    engine: Engine, fixed: Agreement
) -> None:
    with db.transaction(engine) as s:
        load_plan(s, fixed, now=at(2023, 4, 3))  # the first period followed up is 2023
    run_until(engine, at(2023, 12, 20, 12))
    revise_all(engine, renewed("2025-12-31"), at(2023, 12, 20, 12))
    with db.transaction(engine) as s:
        row = s.get(AgreementRow, "tidsbegransad")
        # Revision 3 from signing: 2027-01-15, after the new term → its last working day, Tuesday 30 December 2025.
        assert row is not None and (row.plan_version, row.revision_number, row.revision_due) == (
            2,
            3,
            date(2025, 12, 30),
        )
    run_until(engine, at(2024, 4, 2, 12))
    with db.transaction(engine) as s:
        service.record_follow_up(
            s, "vandringar.kommun", period=2023, values={"antal": 2}, comment="ok", by="Fritid", now=at(2024, 4, 2, 12)
        )
    run_until(engine, at(2025, 3, 2))
    with db.transaction(engine) as s:
        c = service.resolve_commitment(s, "vandringar.kommun")
        # Without the renewal it would have ended after its 2023 report; renewed, it is asked for 2024.
        assert (c.state, c.period) == ("pågående", 2024)
        reminded = s.scalars(select(OutboxRow.key).where(OutboxRow.commitment_id == c.id, OutboxRow.period == 2024))
        assert "reminder:tidsbegransad.vandringar.kommun:2024:-30" in set(reminded)


def _outbox(engine: Engine) -> list[OutboxRow]:
    with db.transaction(engine) as s:
        return list(s.scalars(select(OutboxRow).order_by(OutboxRow.id)))
