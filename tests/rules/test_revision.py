"""Revision every N years from signing: kick-off, late notices, the next cycle."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from engine.agreement import Schedule as ScheduleSettings
from rules import revision
from rules.calendar import SwedishCalendar
from rules.model import AdvanceRevision, AgreementView, Outcome, QueueNotice, Schedule

STHLM = ZoneInfo("Europe/Stockholm")
CAL = SwedishCalendar()
# The agreement file's defaults: 08:00, due 31 March, reminders -30/-7/0, repeat and escalate after 14 days,
# revision every 3 years, kick-off 60 days before, late notices every 30 days.
S = Schedule.from_settings("Europe/Stockholm", ScheduleSettings().model_dump(mode="json"))
BORAS = AgreementView(
    id="boras",
    signed=date(2015, 12, 14),
    valid_to=None,
    revision_number=1,
    revision_due=date(2018, 12, 14),
    party_emails=("brab@boras.example", "kommunpolis@polisen.example"),
    owner_email="brab@boras.example",
)


def at(y: int, m: int, d: int, hh: int = 8) -> datetime:
    return datetime(y, m, d, hh, tzinfo=STHLM)


def notices(a: AgreementView, now: datetime) -> list[QueueNotice]:
    return [x for x in revision.evaluate(a, S, now, CAL).actions if isinstance(x, QueueNotice)]


def test_the_kickoff_goes_to_both_parties_and_the_process_owner_60_days_before() -> None:
    # 2018-12-14 − 60 days = Monday 2018-10-15.
    assert notices(BORAS, at(2018, 10, 15, 7)) == []
    (n,) = notices(BORAS, at(2018, 10, 15))
    assert (n.kind, n.key) == ("revision_kickoff", "revision_kickoff:boras:1")
    assert n.recipients == ("brab@boras.example", "kommunpolis@polisen.example")
    assert n.data == {"revision": 1, "due": "2018-12-14"}


def test_an_unfinished_revision_gets_late_notices_every_30_days() -> None:
    late = [n.key for n in notices(BORAS, at(2018, 12, 17)) if n.kind == "revision_overdue"]
    assert late == ["revision_overdue:boras:1:0"]
    # 2018-12-15 + 30 = 2019-01-14 (Monday).
    late = [n.key for n in notices(BORAS, at(2019, 1, 14)) if n.kind == "revision_overdue"]
    assert late == ["revision_overdue:boras:1:1"]


def test_a_revision_never_completed_is_replaced_by_the_next_cycle_at_its_kickoff() -> None:
    # Revision 2 is due 2021-12-14; its kick-off is 2021-10-15 (Friday).
    out = revision.evaluate(BORAS, S, at(2021, 10, 15), CAL)
    advances = [x for x in out.actions if isinstance(x, AdvanceRevision)]
    assert advances == [AdvanceRevision(agreement="boras", number=2, next_due=date(2021, 12, 14))]
    assert [n.key for n in out.actions if isinstance(n, QueueNotice)] == ["revision_kickoff:boras:2"]


def test_a_fixed_term_agreement_is_revised_before_its_term_ends() -> None:
    # The first anniversary (2024-01-01) lies after the term: capped to its last day, Sunday 31 December
    # (nyårsafton), whose next working day would be after the term: its last working day, Friday 29 December.
    assert revision.nominal(date(2021, 1, 1), 3, 1, date(2023, 12, 31)) == date(2023, 12, 31)
    assert revision.deadline(date(2021, 1, 1), 3, 1, date(2023, 12, 31), CAL) == date(2023, 12, 29)
    assert revision.nominal(date(2021, 1, 1), 3, 2, date(2023, 12, 31)) is None


def test_nothing_after_termination() -> None:
    a = replace(BORAS, terminates=date(2018, 11, 1))
    assert notices(a, at(2018, 10, 15)) != []
    assert notices(a, at(2018, 12, 17)) == []


# --- every revision counted from the signing date ------------------------------------------------


def test_an_agreement_signed_on_29_february_is_revised_on_each_anniversary_from_signing() -> None:
    # Every 2 years from 2020-02-29: 2022-02-28 (Monday), 2024-02-29 (Thursday), 2026-02-28 (a Saturday
    # → Monday 2 March), 2028-02-29: never drifting to 28 February for good.
    signed = date(2020, 2, 29)
    assert [revision.deadline(signed, 2, n, None, CAL) for n in (1, 2, 3, 4)] == [
        date(2022, 2, 28),
        date(2024, 2, 29),
        date(2026, 3, 2),
        date(2028, 2, 29),
    ]


def test_the_next_revision_is_counted_from_signing_even_after_a_moved_deadline() -> None:
    # Revision 3 (deadline 2026-03-02) completed on that day: revision 4 is 2028-02-29, not 2028-03-02.
    assert revision.following(date(2020, 2, 29), 2, None, 3, date(2026, 3, 2), CAL) == (4, date(2028, 2, 29))


def test_completing_a_revision_late_never_schedules_the_next_in_the_past() -> None:
    # Borås revision 1 (2018-12-14) completed in 2022: revision 2 (2021-12-14) is gone, the next is 3 (2024-12-16).
    assert revision.following(date(2015, 12, 14), 3, None, 1, date(2022, 1, 10), CAL) == (3, date(2024, 12, 16))


def test_a_fixed_term_has_its_revisions_from_signing_and_a_last_one_capped_by_the_term() -> None:
    # Signed 2015-12-14, valid to 2025-12-31, every 3 years: 2018, 2021, 2024 and a last one on the term's
    # last working day (31 December is nyårsafton → Tuesday 30 December 2025), then none.
    signed, to = date(2015, 12, 14), date(2025, 12, 31)
    assert [revision.deadline(signed, 3, n, to, CAL) for n in range(1, 6)] == [
        date(2018, 12, 14),
        date(2021, 12, 14),
        date(2024, 12, 16),
        date(2025, 12, 30),
        None,
    ]
    assert revision.following(signed, 3, to, 4, date(2025, 12, 30), CAL) == (5, None)


def test_the_last_kickoff_of_a_fixed_term_comes_before_the_term_ends() -> None:
    a = replace(BORAS, valid_to=date(2025, 12, 31), revision_number=4, revision_due=date(2025, 12, 30))
    (n,) = notices(a, at(2025, 10, 31))  # 60 days before 30 December: Friday 31 October
    assert (n.kind, n.key, n.data["due"]) == ("revision_kickoff", "revision_kickoff:boras:4", "2025-12-30")


def test_nothing_about_revisions_is_sent_after_the_term_ends() -> None:
    a = replace(BORAS, valid_to=date(2025, 12, 31), revision_number=4, revision_due=date(2025, 12, 30))
    # On the deadline the kick-off (queued in October, the same key) is all there is; the day after is
    # nyårsafton, and the next send slot, 2 January, is after the term: no late notice ever.
    assert [n.kind for n in notices(a, at(2025, 12, 30))] == ["revision_kickoff"]
    assert notices(a, at(2025, 12, 31)) == []
    assert notices(a, at(2026, 1, 2)) == []
    assert revision.evaluate(a, S, at(2025, 12, 30), CAL).next_check is None


def test_a_term_with_no_revision_left_sends_nothing_about_revisions() -> None:
    a = replace(BORAS, valid_to=date(2025, 12, 31), revision_number=5, revision_due=None)
    assert revision.evaluate(a, S, at(2025, 11, 3), CAL) == Outcome()


def test_a_kickoff_found_late_goes_in_the_next_send_slot() -> None:
    (n,) = notices(BORAS, at(2018, 10, 20, 15))  # a Saturday afternoon, five days late
    assert n.send_at == at(2018, 10, 22)
