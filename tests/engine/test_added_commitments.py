"""A commitment added by a revision is never asked for a period that ended before it was adopted (issue 11, point 8).

The Borås agreement loaded in 2026; revision 4 (deadline 2027-12-14) completed late, on
2028-02-01, with a new insats. The 2027 reports of the others are due 2028-03-31, but
the new commitments did not exist in 2027: their first period is 2028.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from engine import db, service
from engine.agreement import Agreement, parse_agreement
from engine.models import OutboxRow
from engine.plan import load_plan
from engine.revisions import complete, decide
from engine.tick import tick

STHLM = ZoneInfo("Europe/Stockholm")
BORAS = Path(__file__).resolve().parents[2] / "config" / "boras-2015.yaml"
NEW = ("boras.trygg-natt.kommun", "boras.trygg-natt.polis")
# The reminders, overdue notices and escalations of the 2027 reports (due Friday 2028-03-31), and after.
THROUGH_APRIL_2028 = [
    datetime(2028, m, d, 8, tzinfo=STHLM) for m, d in ((3, 1), (3, 24), (3, 31), (4, 3), (4, 14), (4, 17), (4, 28))
]


def at(y: int, m: int, d: int, hh: int = 9) -> datetime:
    return datetime(y, m, d, hh, tzinfo=STHLM)


def with_new_effort() -> Agreement:
    """Borås with one more insats, Trygg natt, written like Tobakstillsyn (ongoing, no start date of its own)."""
    text = BORAS.read_text(encoding="utf-8")
    start = text.index("      - id: tobakstillsyn")
    end = text.index("  # ----", start)
    new = (
        text[start:end]
        .replace("id: tobakstillsyn", "id: trygg-natt")
        .replace("title: Tobakstillsyn", "title: Trygg natt")
        .replace("Gemensam tillsyn med polisen.", "Nattvandringar med föreningar.")
    )
    return parse_agreement(text[:end] + new + text[end:], "boras-2028.yaml")


@pytest.fixture
def boras_2026(engine: Engine, boras: Agreement) -> Engine:
    with db.transaction(engine) as s:
        load_plan(s, boras, now=at(2026, 11, 24))
    tick(engine, at(2026, 11, 24))
    return engine


def asked_for(engine: Engine, commitments: tuple[str, ...]) -> list[tuple[str, str, int | None]]:
    with db.transaction(engine) as s:
        return sorted(
            (r.kind, r.commitment_id or "", r.period)
            for r in s.scalars(select(OutboxRow).where(OutboxRow.commitment_id.in_(commitments)))
        )


def open_period(engine: Engine, key: str) -> tuple[str, int, date | None]:
    with db.transaction(engine) as s:
        c = service.resolve_commitment(s, key)
        return c.state, c.period, c.next_due


def test_a_commitment_added_by_a_late_revision_starts_with_the_year_it_was_adopted(boras_2026: Engine) -> None:
    tick(boras_2026, at(2027, 10, 15, 8))  # revision 4's kick-off opens it
    with db.transaction(boras_2026) as s:
        for row in service.status(s):
            if row.state != "avslutad":
                decide(s, row.id, "keep", text="fortsätter", by="BråB", now=at(2028, 1, 20))
    with db.transaction(boras_2026) as s:
        done = complete(s, with_new_effort(), by="BråB", now=at(2028, 2, 1))
    assert done.added == list(NEW)
    for key in NEW:
        # 2028, due 3 April 2029 (31 March is a Saturday, 2 April Easter Monday) — not 2027, due 2028-03-31.
        assert open_period(boras_2026, key) == ("planerad", 2028, date(2029, 4, 3))
    tick(boras_2026, at(2028, 2, 1, 10))
    for day in THROUGH_APRIL_2028:
        tick(boras_2026, day)
    for key in NEW:
        assert open_period(boras_2026, key) == ("pågående", 2028, date(2029, 4, 3))
    assert asked_for(boras_2026, NEW) == []  # nothing about 2027, and 2028's first reminder is in 2029
    # The commitments the revision kept are still asked for what they owe.
    assert any(period == 2026 for _, _, period in asked_for(boras_2026, ("boras.mbu.polis",)))


def test_a_commitment_added_by_a_later_plan_version_is_not_asked_for_a_period_already_over(boras_2026: Engine) -> None:
    with db.transaction(boras_2026) as s:
        result = load_plan(s, with_new_effort(), now=at(2028, 2, 1))
    assert result.plan_version == 2
    for day in [at(2028, 2, 1, 10), *THROUGH_APRIL_2028]:
        tick(boras_2026, day)
    for key in NEW:
        assert open_period(boras_2026, key) == ("pågående", 2028, date(2029, 4, 3))
    assert asked_for(boras_2026, NEW) == []
    assert result.added == list(NEW)
