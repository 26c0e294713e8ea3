"""The process owner's overdue review on a hand-built state at a fixed `now`."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, update

from engine import db, parties, service
from engine.agreement import Agreement
from engine.models import Commitment, OutboxRow
from engine.plan import load_plan
from engine.review import review
from engine.tick import tick
from samverkan.cli import main

STHLM = ZoneInfo("Europe/Stockholm")


def at(y: int, m: int, d: int, hh: int = 9) -> datetime:
    return datetime(y, m, d, hh, tzinfo=STHLM)


@pytest.fixture
def april_2027(engine: Engine, boras: Agreement) -> Engine:
    """2026 reports due 31 March 2027; on 20 April: MBU polis reported 1 (target 2), the rest late."""
    with db.transaction(engine) as s:
        load_plan(s, boras, now=at(2026, 11, 24))
    tick(engine, at(2026, 11, 24))
    for day in (at(2027, 3, 1, 8), at(2027, 3, 24, 8), at(2027, 3, 31, 8), at(2027, 4, 1, 8), at(2027, 4, 14, 8)):
        tick(engine, day)
    with db.transaction(engine) as s:
        s.execute(update(OutboxRow).values(state="sent"))  # as delivered
        failed = s.scalars(select(OutboxRow).where(OutboxRow.key == "overdue:boras.sspf.kommun:2026:0")).one()
        failed.state, failed.last_error = "failed", "550 5.1.1 Mottagaren finns inte"
        service.record_follow_up(
            s,
            "mbu.polis",
            period=2026,
            values={"utbildningar": 1},
            comment="En",
            by="Kommunpolisen",
            now=at(2027, 3, 20),
        )
        parties.notify_change(
            s,
            party="polis",
            text="Färre kommunpoliser",
            by="LPO-chef",
            commitments=["gym-dopning.polis"],
            now=at(2027, 4, 2),
        )
    return engine


def test_late_follow_ups_list_unit_days_late_and_what_was_sent(april_2027: Engine) -> None:
    with db.transaction(april_2027) as s:
        result = review(s, at(2027, 4, 20))
    late = {f.commitment: f for f in result.follow_ups}
    assert len(late) == 27  # 28 running, MBU polis reported
    f = late["boras.mbu.kommun"]
    assert (f.party, f.unit, f.unit_email, f.period, f.due, f.days_late) == (
        "kommun",
        "brab",
        "brab@boras.example",
        2026,
        "2027-03-31",
        20,
    )
    # BråB answers for MBU kommun itself: nobody is escalated to themselves.
    assert (f.reminders_sent, f.overdue_sent, f.escalated) == (3, 1, False)
    assert late["boras.bra-samordning.kommun"].escalated is True
    assert late["boras.sspf.kommun"].overdue_sent == 0  # the one that failed is not counted as sent
    # Grouped by party and unit: every kommun row before every polis row.
    parties = [f.party for f in result.follow_ups]
    assert parties == sorted(parties)


def test_the_review_names_undeliverable_notices_deviations_and_flags(april_2027: Engine) -> None:
    with db.transaction(april_2027) as s:
        result = review(s, at(2027, 4, 20))
    assert [(u.key, u.recipients, u.error) for u in result.undeliverable] == [
        ("overdue:boras.sspf.kommun:2026:0", ["sdf-vaster@boras.example"], "550 5.1.1 Mottagaren finns inte")
    ]
    assert [(d.commitment, d.measure, d.value, d.target) for d in result.deviations] == [
        ("boras.mbu.polis", "utbildningar", 1, 2)
    ]
    assert [f.commitment for f in result.flagged] == ["boras.gym-dopning.polis"]
    assert result.revisions == []  # revision 4 is due 2027-12-14


def test_a_late_revision_is_in_the_review(april_2027: Engine) -> None:
    with db.transaction(april_2027) as s:
        result = review(s, at(2028, 1, 10))
    assert [(r.revision, r.due, r.days_late, r.opened, r.undecided) for r in result.revisions] == [
        (4, "2027-12-14", 27, False, 28)
    ]


def test_overdue_json_is_the_same_review(april_2027: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    url = april_2027.url.render_as_string(hide_password=False)
    assert main(["overdue", "--db", url, "--now", "2027-04-20T09:00", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    first = next(f for f in data["follow_ups"] if f["commitment"] == "boras.mbu.kommun")
    assert first == {
        "commitment": "boras.mbu.kommun",
        "agreement": "boras",
        "party": "kommun",
        "party_name": "Borås Stad",
        "unit": "brab",
        "unit_name": "Brottsförebyggande rådet i Borås (BråB)",
        "unit_email": "brab@boras.example",
        "effort": "MBU – Människan bakom uniformen",
        "period": 2026,
        "due": "2027-03-31",
        "days_late": 20,
        "reminders_sent": 3,
        "overdue_sent": 1,
        "escalated": False,  # BråB's own: not escalated to itself
    }
    assert data["deviations"][0]["text"].startswith("Utbildning två gånger per år")
    assert main(["overdue", "--db", url, "--now", "2027-04-20T09:00"]) == 0
    out = capsys.readouterr().out
    assert "Försenade uppföljningar" in out and "Avvikelser från mål" in out and "550 5.1.1" in out


def test_the_weekly_review_goes_to_the_process_owner_on_monday(april_2027: Engine) -> None:
    report = tick(april_2027, at(2027, 4, 19, 8))  # Monday
    with db.transaction(april_2027) as s:
        weekly = s.scalars(select(OutboxRow).where(OutboxRow.kind == "weekly_summary")).all()
    assert [(w.key, w.recipients) for w in weekly if w.key.endswith("W16")] == [
        ("weekly_summary:boras:2027-W16", ["brab@boras.example"])
    ]
    assert report.notices >= 1
    with db.transaction(april_2027) as s:
        assert s.scalars(select(Commitment).where(Commitment.revision_flag.is_not(None))).one()
