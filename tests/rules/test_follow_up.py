"""The yearly follow-up rule, for hand-built states: reminders, overdue, escalation, catch-up."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from engine.agreement import Schedule as ScheduleSettings
from rules import follow_up
from rules.calendar import SwedishCalendar
from rules.model import CommitmentView, QueueNotice, Schedule

STHLM = ZoneInfo("Europe/Stockholm")
CAL = SwedishCalendar()
# The agreement file's defaults: 08:00, due 31 March, reminders -30/-7/0, repeat and escalate after 14 days,
# revision every 3 years, kick-off 60 days before, late notices every 30 days.
S = Schedule.from_settings("Europe/Stockholm", ScheduleSettings().model_dump(mode="json"))


def view(state: str = "pågående", period: int = 2026, terminates: date | None = None) -> CommitmentView:
    return CommitmentView(
        id="boras.mbu.kommun",
        agreement="boras",
        state=state,
        period=period,
        starts=date(2015, 12, 14),
        ends=None,
        unit_email="fof@boras.example",
        owner_email="brab@boras.example",
        terminates=terminates,
    )


def local(y: int, m: int, d: int, hh: int = 8, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=STHLM)


def notices(now: datetime, c: CommitmentView | None = None) -> list[QueueNotice]:
    out = follow_up.evaluate(c or view(), S, now, CAL)
    return [a for a in out.actions if isinstance(a, QueueNotice)]


# The report for 2026 is due Wednesday 2027-03-31.
# -30 → 2027-03-01 (Monday), -7 → 2027-03-24 (Wednesday), 0 → 2027-03-31.
@pytest.mark.parametrize(
    ("now", "key"),
    [
        (local(2027, 2, 28, 23, 59), None),
        (local(2027, 3, 1, 7, 59), None),
        (local(2027, 3, 1), "reminder:boras.mbu.kommun:2026:-30"),
        (local(2027, 3, 23), "reminder:boras.mbu.kommun:2026:-30"),
        (local(2027, 3, 24), "reminder:boras.mbu.kommun:2026:-7"),
        (local(2027, 3, 31), "reminder:boras.mbu.kommun:2026:0"),
        # Found at night on the due day: its next slot is the first overdue notice's, which replaces it.
        (local(2027, 3, 31, 23, 0), None),
    ],
)
def test_reminders_go_to_the_responsible_unit_at_each_offset(now: datetime, key: str | None) -> None:
    found = notices(now)
    assert [n.key for n in found] == ([key] if key else [])
    for n in found:
        assert n.recipients == ("fof@boras.example",)
        assert n.kind == "reminder"
        assert n.data["due"] == "2027-03-31"


def test_the_reminder_goes_out_at_08_local_time() -> None:
    (n,) = notices(local(2027, 3, 1, 8, 0))
    assert n.send_at == local(2027, 3, 1, 8, 0)


def test_a_reminder_found_late_goes_in_this_mornings_slot_or_the_next_never_at_the_ticks_instant() -> None:
    (n,) = notices(local(2027, 3, 1, 9, 30))
    assert n.send_at == local(2027, 3, 1, 8, 0)  # the morning's slot is still open: out at once
    (n,) = notices(local(2027, 3, 1, 13, 0))
    assert n.send_at == local(2027, 3, 2, 8, 0)  # afternoon: the next working day's send time
    (n,) = notices(local(2027, 3, 6, 12, 0))  # a Saturday
    assert n.send_at == local(2027, 3, 8, 8, 0)


def test_a_reminder_on_a_closed_day_goes_on_the_previous_working_day() -> None:
    # Report for 2016 due 2017-03-31 (Friday); -7 → Friday 24 March; -30 → Wednesday 1 March.
    # Report for 2017 due Saturday 2018-03-31 (påskafton) → Tuesday 2018-04-03;
    # -7 → Tuesday 27 March; 0 → the due date itself; -30 → Sunday 4 March → Friday 2 March.
    (n,) = notices(local(2018, 3, 2), view(period=2017))
    assert n.key.endswith(":-30") and n.send_at == local(2018, 3, 2)
    assert notices(local(2018, 3, 1, 23), view(period=2017)) == []


def test_after_the_due_date_an_overdue_notice_replaces_the_reminders() -> None:
    # First working day after Wednesday 2027-03-31 is Thursday 1 April (Good Friday is 26 March 2027).
    (n,) = notices(local(2027, 4, 1))
    assert (n.kind, n.key, n.recipients) == ("overdue", "overdue:boras.mbu.kommun:2026:0", ("fof@boras.example",))
    assert n.data["days_late"] == 1


def test_overdue_notices_repeat_at_the_configured_interval() -> None:
    # 2027-03-31 + 1 + 14 = 15 April (Thursday); + 28 = 29 April (Thursday).
    keys = [n.key for n in notices(local(2027, 4, 15)) if n.kind == "overdue"]
    assert keys == ["overdue:boras.mbu.kommun:2026:1"]
    keys = [n.key for n in notices(local(2027, 4, 29)) if n.kind == "overdue"]
    assert keys == ["overdue:boras.mbu.kommun:2026:2"]
    keys = [n.key for n in notices(local(2027, 4, 28)) if n.kind == "overdue"]
    assert keys == ["overdue:boras.mbu.kommun:2026:1"]


def test_escalation_goes_once_to_the_process_owner_after_the_configured_delay() -> None:
    # 2027-03-31 + 14 days = Wednesday 14 April.
    assert [n.kind for n in notices(local(2027, 4, 13))] == ["overdue"]
    esc = [n for n in notices(local(2027, 4, 14)) if n.kind == "escalation"]
    assert [(n.key, n.recipients) for n in esc] == [("escalation:boras.mbu.kommun:2026", ("brab@boras.example",))]
    later = [n for n in notices(local(2027, 9, 1)) if n.kind == "escalation"]
    assert [n.key for n in later] == ["escalation:boras.mbu.kommun:2026"]  # same key: sent once


def test_catch_up_after_40_days_down_sends_the_latest_overdue_not_the_missed_reminders() -> None:
    # Down from 2027-03-20 to 2027-04-29: the -7 and 0 reminders and two overdue notices fell due.
    found = notices(local(2027, 4, 29, 10, 0))
    assert sorted(n.key for n in found) == [
        "escalation:boras.mbu.kommun:2026",
        "overdue:boras.mbu.kommun:2026:2",
    ]
    assert all(n.send_at == local(2027, 4, 29, 8, 0) for n in found)  # that morning's slot


@pytest.mark.parametrize("state", ["planerad", "uppföljd", "reviderad", "avslutad"])
def test_only_a_running_commitment_is_reminded(state: str) -> None:
    assert notices(local(2027, 3, 31), view(state=state)) == []


def test_next_check_is_the_next_instant_anything_can_happen() -> None:
    assert follow_up.evaluate(view(), S, local(2027, 1, 10), CAL).next_check == local(2027, 3, 1)
    assert follow_up.evaluate(view(), S, local(2027, 3, 1), CAL).next_check == local(2027, 3, 24)
    assert follow_up.evaluate(view(), S, local(2027, 3, 31), CAL).next_check == local(2027, 4, 1)
    # After the first overdue: the escalation (14 April) comes before the repeat (15 April).
    assert follow_up.evaluate(view(), S, local(2027, 4, 1), CAL).next_check == local(2027, 4, 14)


def test_no_reminder_on_or_after_the_day_a_termination_takes_effect() -> None:
    c = view(terminates=date(2027, 3, 20))
    assert [n.key for n in notices(local(2027, 3, 1), c)] == ["reminder:boras.mbu.kommun:2026:-30"]
    assert notices(local(2027, 3, 24), c) == []
    assert follow_up.evaluate(c, S, local(2027, 3, 1), CAL).next_check is None


# --- due dates early in the year ----------------------------------------------------------------

EARLY = Schedule.from_settings(
    "Europe/Stockholm",
    ScheduleSettings.model_validate({"follow_up": {"due": "01-06", "reminder_offsets_days": [-30, -7, 0]}}).model_dump(
        mode="json"
    ),
)


def test_reporting_opens_on_1_january_or_on_the_first_reminder_day_if_that_comes_first() -> None:
    # Borås, due 31 March: the -30 reminder is in March of P+1, after 1 January.
    assert follow_up.reporting_opens(2026, S, CAL) == date(2027, 1, 1)
    # Due 6 January (trettondedag jul, a holiday) 2028 → Friday 7 January; -30 → Wednesday 8 December 2027.
    assert CAL.follow_up_due(2027, "01-06") == date(2028, 1, 7)
    assert follow_up.reporting_opens(2027, EARLY, CAL) == date(2027, 12, 8)


@pytest.mark.parametrize(
    ("now", "key", "when"),
    [
        (local(2027, 12, 8), "reminder:boras.mbu.kommun:2027:-30", local(2027, 12, 8)),
        # -7 → Friday 31 December is nyårsafton: the previous working day, Thursday 30 December.
        (local(2027, 12, 30), "reminder:boras.mbu.kommun:2027:-7", local(2027, 12, 30)),
        (local(2028, 1, 7), "reminder:boras.mbu.kommun:2027:0", local(2028, 1, 7)),
    ],
)
def test_with_an_early_year_due_date_every_reminder_goes_on_its_own_working_day_in_december_or_january(
    now: datetime, key: str, when: datetime
) -> None:
    (n,) = [a for a in follow_up.evaluate(view(period=2027), EARLY, now, CAL).actions if isinstance(a, QueueNotice)]
    assert (n.key, n.send_at) == (key, when)
    assert CAL.is_working_day(n.send_at.date()) and n.send_at.time() == time(8, 0)


def test_nobody_is_escalated_to_themselves() -> None:
    own = CommitmentView(**{**view().__dict__, "unit_email": "brab@boras.example"})
    kinds = [n.kind for n in notices(local(2027, 4, 14), own)]
    assert kinds == ["overdue"]  # the overdue notice to BråB itself, no escalation to the same address
    assert follow_up.evaluate(own, S, local(2027, 4, 13), CAL).next_check == local(2027, 4, 15)


def test_a_reminder_caught_up_into_the_next_reminders_slot_is_replaced_by_it() -> None:
    # Reminders at -1 and 0 days: found at 13:00 on the -1 day, its next slot is the 0 reminder's.
    close = Schedule.from_settings(
        "Europe/Stockholm",
        ScheduleSettings.model_validate({"follow_up": {"reminder_offsets_days": [-1, 0]}}).model_dump(mode="json"),
    )
    assert notices_for(close, local(2027, 3, 30, 13)) == []
    assert [n.key for n in notices_for(close, local(2027, 3, 31, 8))] == ["reminder:boras.mbu.kommun:2026:0"]


def notices_for(s: Schedule, now: datetime) -> list[QueueNotice]:
    return [a for a in follow_up.evaluate(view(), s, now, CAL).actions if isinstance(a, QueueNotice)]


def test_two_reminders_moved_onto_the_same_working_day_are_one() -> None:
    # 2023's report is due Tuesday 2 April 2024 (Easter); -3 (Saturday 30 March) and -1 (Easter Monday)
    # both move to Thursday 28 March: one reminder that morning, the one nearer the due date.
    close = Schedule.from_settings(
        "Europe/Stockholm",
        ScheduleSettings.model_validate({"follow_up": {"reminder_offsets_days": [-3, -1]}}).model_dump(mode="json"),
    )
    c = view(period=2023)
    found = [a for a in follow_up.evaluate(c, close, local(2024, 3, 28), CAL).actions if isinstance(a, QueueNotice)]
    assert [n.key for n in found] == ["reminder:boras.mbu.kommun:2023:-1"]
    assert follow_up.evaluate(c, close, local(2024, 3, 28), CAL).next_check == local(2024, 4, 3)
