"""The date-driven lifecycle moves: start, new period, end (and termination)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from engine.agreement import Schedule as ScheduleSettings
from rules import commitment, dates
from rules.calendar import SwedishCalendar
from rules.model import CommitmentView, FireTrigger, Schedule

STHLM = ZoneInfo("Europe/Stockholm")
CAL = SwedishCalendar()
# The agreement file's defaults: 08:00, due 31 March, reminders -30/-7/0, repeat and escalate after 14 days,
# revision every 3 years, kick-off 60 days before, late notices every 30 days.
S = Schedule.from_settings("Europe/Stockholm", ScheduleSettings().model_dump(mode="json"))
TRAFIK = CommitmentView(
    id="boras.trafik.polis",
    agreement="boras",
    state="planerad",
    period=2016,
    starts=date(2016, 1, 1),
    ends=date(2018, 12, 31),
    unit_email="kommunpolis@polisen.example",
    owner_email="brab@boras.example",
)


def at(y: int, m: int, d: int, hh: int = 0) -> datetime:
    return datetime(y, m, d, hh, tzinfo=STHLM)


def triggers(c: CommitmentView, now: datetime) -> list[str]:
    return [a.trigger for a in dates.evaluate(c, S, now, CAL).actions if isinstance(a, FireTrigger)]


def test_a_planned_commitment_starts_on_its_start_date_at_local_midnight() -> None:
    assert triggers(TRAFIK, at(2015, 12, 31, 23)) == []
    assert dates.evaluate(TRAFIK, S, at(2015, 12, 31, 23), CAL).next_check == at(2016, 1, 1)
    assert triggers(TRAFIK, at(2016, 1, 1)) == ["start"]


def test_a_followed_up_commitment_opens_the_next_period_when_that_period_has_ended() -> None:
    c = replace(TRAFIK, state="uppföljd", period=2016)  # 2016 reported in spring 2017
    assert triggers(c, at(2017, 12, 31, 23)) == []
    assert triggers(c, at(2018, 1, 1)) == ["new_period"]


def test_trafik_2016_2018_ends_after_its_2018_follow_up() -> None:
    assert triggers(replace(TRAFIK, state="uppföljd", period=2017), at(2019, 1, 1)) == ["new_period"]
    assert triggers(replace(TRAFIK, state="uppföljd", period=2018), at(2019, 4, 1, 12)) == ["end"]
    assert triggers(replace(TRAFIK, state="pågående", period=2018), at(2019, 4, 1, 12)) == []


def test_a_fixed_term_agreement_ends_its_open_ended_commitments_with_its_last_period() -> None:
    c = replace(TRAFIK, ends=None, valid_to=date(2023, 12, 31), state="uppföljd", period=2023)
    assert triggers(c, at(2024, 3, 1)) == ["end"]


@pytest.mark.parametrize("state", ["planerad", "pågående", "uppföljd", "reviderad"])
def test_termination_ends_every_commitment_on_its_effective_date(state: str) -> None:
    c = replace(TRAFIK, state=state, starts=date(2018, 1, 1), terminates=date(2017, 6, 30))
    assert triggers(c, at(2017, 6, 29, 23)) == []
    assert triggers(c, at(2017, 6, 30)) == ["end"]


def test_an_ended_commitment_never_moves_or_wakes_again() -> None:
    out = dates.evaluate(replace(TRAFIK, state="avslutad"), S, at(2030, 1, 1), CAL)
    assert (out.actions, out.next_check) == ((), None)


def test_moves_and_notices_combine_a_start_today_gets_todays_reminder() -> None:
    # Start date 2017-03-01 is also the -30 reminder day for the 2016 report: one evaluation does both.
    c = replace(TRAFIK, starts=date(2017, 3, 1))
    out = commitment.evaluate(c, S, at(2017, 3, 1, 8), CAL)
    kinds = [getattr(a, "trigger", None) or getattr(a, "kind", None) for a in out.actions]
    assert kinds == ["start", "reminder"]
    assert out.next_check is not None and out.next_check > at(2017, 3, 1, 8)


EARLY = Schedule.from_settings(
    "Europe/Stockholm",
    ScheduleSettings.model_validate({"follow_up": {"due": "01-06"}}).model_dump(mode="json"),
)


def test_with_an_early_year_due_date_the_next_period_opens_on_its_first_reminder_day() -> None:
    # 2026 reported in January 2027; 2027 is due Friday 7 January 2028, its -30 reminder Wednesday 8 December 2027.
    c = replace(TRAFIK, ends=None, state="uppföljd", period=2026)
    assert [a.trigger for a in dates.evaluate(c, EARLY, at(2027, 12, 7, 23), CAL).actions] == []
    assert dates.evaluate(c, EARLY, at(2027, 12, 7, 23), CAL).next_check == at(2027, 12, 8)
    assert [a.trigger for a in dates.evaluate(c, EARLY, at(2027, 12, 8), CAL).actions] == ["new_period"]


def test_a_commitment_whose_open_period_is_past_its_last_ends() -> None:
    # A revision adopted after Trafik's last period (2018) was reported leaves it waiting for 2019.
    c = replace(TRAFIK, state="pågående", period=2019)
    (fire,) = dates.evaluate(c, S, at(2019, 6, 1), CAL).actions
    assert isinstance(fire, FireTrigger) and fire.trigger == "end" and "2018" in fire.why


@pytest.mark.parametrize("state", ["planerad", "reviderad"])
def test_a_commitment_nothing_is_asked_of_ends_when_its_fixed_term_is_over(state: str) -> None:
    # (planerad: its start, the term's last day, was never acted on.)
    c = replace(TRAFIK, ends=None, starts=date(2023, 12, 31), valid_to=date(2023, 12, 31), state=state, period=2023)
    if state == "reviderad":
        assert dates.evaluate(c, S, at(2023, 12, 31, 23), CAL).next_check == at(2024, 1, 1)
    (fire,) = dates.evaluate(c, S, at(2024, 1, 1), CAL).actions
    assert isinstance(fire, FireTrigger) and fire.trigger == "end" and "giltighetstid" in fire.why


def test_after_the_term_the_last_period_is_still_asked_for_and_then_the_commitment_ends() -> None:
    c = replace(TRAFIK, ends=None, valid_to=date(2023, 12, 31), state="pågående", period=2023)
    assert dates.evaluate(c, S, at(2024, 3, 1, 8), CAL).actions == ()  # reminders for 2023 still go (follow_up)
    (fire,) = dates.evaluate(replace(c, state="uppföljd"), S, at(2024, 3, 20, 12), CAL).actions
    assert isinstance(fire, FireTrigger) and fire.trigger == "end"


# -- the follow-up asked for next ------------------------------------------------------------------


def test_the_next_report_is_the_open_periods_until_it_is_reported_then_the_next_periods() -> None:
    def asked(state: str, period: int, **kw: object) -> tuple[int, date] | None:
        values: dict[str, object] = {"last": None, "terminates": None, "due_md": "03-31", "cal": CAL}
        return dates.next_report(state, period, **{**values, **kw})  # type: ignore[arg-type]

    assert asked("pågående", 2026) == (2026, date(2027, 3, 31))
    assert asked("planerad", 2026) == (2026, date(2027, 3, 31))
    assert asked("uppföljd", 2026) == (2027, date(2028, 3, 31))
    assert asked("uppföljd", 2027, due_md="02-28") == (2028, date(2029, 2, 28))
    assert asked("uppföljd", 2028, due_md="03-31") == (2029, date(2030, 4, 1))  # 31 March 2030 is a Sunday
    assert asked("uppföljd", 2018, last=2018) is None  # the last period is reported: nothing more is asked
    assert asked("uppföljd", 2017, last=2018) == (2018, date(2019, 4, 1))
    assert asked("avslutad", 2026) is None
    # Nothing is asked on or after the day a termination takes effect.
    assert asked("uppföljd", 2026, terminates=date(2028, 3, 31)) is None
    assert asked("uppföljd", 2026, terminates=date(2028, 4, 1)) == (2027, date(2028, 3, 31))
