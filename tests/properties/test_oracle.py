"""The suite's oracle (tests/properties/spec.py) on the examples docs/rules.md and issue 11 give.

If these fail, the property tests judge the engine by a wrong yardstick.
"""

from __future__ import annotations

from datetime import date, time

from tests.properties.agreements import NAMED_CASES, parse, render
from tests.properties.spec import FollowUpRule, RevisionRule, is_send_slot, local, midnight, next_send_slot


def revisions(signed: date, every: int) -> RevisionRule:
    return RevisionRule(
        signed=signed, every_years=every, kickoff_days_before=60, late_repeat_days=30, send_time=time(8, 0)
    )


def test_revision_deadlines_are_counted_from_signing_and_return_to_29_february() -> None:
    rule = revisions(date(2020, 2, 29), 2)
    # Issue 11, point 5: 2022-02-28, 2024-02-29, 2026-02-28 — a Saturday, so Monday 2 March.
    assert [rule.deadline(n, None) for n in (1, 2, 3)] == [date(2022, 2, 28), date(2024, 2, 29), date(2026, 3, 2)]


def test_a_fixed_terms_last_revision_is_capped_and_stays_inside_the_term() -> None:
    rule = revisions(date(2024, 2, 29), 2)
    valid_to = date(2026, 12, 31)  # nyårsafton: closed, and the next working day is after the term
    assert rule.deadline(1, valid_to) == date(2026, 3, 2)
    assert rule.deadline(2, valid_to) == date(2026, 12, 30)
    assert rule.deadline(3, valid_to) is None


def test_completing_a_revision_never_sets_the_next_in_the_past_and_the_last_sets_none() -> None:
    rule = revisions(date(2020, 2, 29), 2)
    assert rule.next_after(1, date(2022, 3, 10), None) == 2
    assert rule.next_after(1, date(2024, 3, 1), None) == 3  # completed after revision 2's deadline
    term = date(2026, 12, 31)  # revision 4 is the capped one: 2026-12-30
    assert rule.next_after(2, date(2026, 12, 1), term) == 4
    assert rule.next_after(4, date(2026, 12, 30), term) is None


def test_an_early_due_date_opens_reporting_at_its_first_reminder_in_december() -> None:
    rule = FollowUpRule(
        due_md="01-06", offsets=(-30, -7, 0), overdue_repeat_days=14, escalation_after_days=14, send_time=time(8)
    )
    # 6 January 2025 is Epiphany: due Tuesday 7 January; −30 days is Sunday 8 December → Friday 6 December.
    assert rule.due(2024) == date(2025, 1, 7)
    assert rule.reminder_at(2024, -30) == local(date(2024, 12, 6), time(8))
    assert rule.reminder_at(2024, -7) == local(date(2024, 12, 30), time(8))  # 31 December is closed
    assert rule.opens(2024) == midnight(date(2024, 12, 6))


def test_a_late_due_date_opens_reporting_on_1_january() -> None:
    rule = FollowUpRule(
        due_md="03-31", offsets=(-30, -7, 0), overdue_repeat_days=14, escalation_after_days=14, send_time=time(8)
    )
    assert rule.due(2017) == date(2018, 4, 3)  # påskafton, påskdagen, annandag påsk
    assert rule.opens(2017) == midnight(date(2018, 1, 1))


def test_send_slots_are_the_send_time_on_working_days_across_daylight_saving() -> None:
    assert is_send_slot(local(date(2025, 3, 31), time(8)), time(8))  # the Monday after the spring change
    assert not is_send_slot(local(date(2025, 1, 1), time(0, 5)), time(8))
    assert next_send_slot(local(date(2024, 12, 31), time(0)), time(8)) == local(date(2025, 1, 2), time(8))


def test_the_named_cases_are_valid_agreement_files() -> None:
    for case in NAMED_CASES:
        assert parse(case.agreement).id == "prov"
        assert 'due: "' in render(case.agreement)
