"""Revision every N years from signing: kick-off, late notices, the next cycle."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from engine.agreement import Schedule as ScheduleSettings
from rules import revision
from rules.calendar import SwedishCalendar
from rules.model import AdvanceRevision, AgreementView, QueueNotice, Schedule

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
