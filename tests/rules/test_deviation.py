"""Measures against targets: a value below its target is a deviation for the process owner."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from engine.agreement import Schedule as ScheduleSettings
from rules import deviation
from rules.calendar import SwedishCalendar
from rules.model import Schedule

STHLM = ZoneInfo("Europe/Stockholm")
# The agreement file's defaults: 08:00, due 31 March, reminders -30/-7/0, repeat and escalate after 14 days,
# revision every 3 years, kick-off 60 days before, late notices every 30 days.
S = Schedule.from_settings("Europe/Stockholm", ScheduleSettings().model_dump(mode="json"))
MBU = [{"id": "utbildningar", "text": "Utbildning två gånger per år", "kind": "count", "target": 2}]


def evaluate(value: object, now: datetime, party: str = "kommun", measures: list[dict] | None = None) -> list:  # type: ignore[type-arg]
    return list(
        deviation.evaluate(
            commitment="boras.mbu.kommun",
            agreement="boras",
            period=2026,
            party=party,
            values={"utbildningar": value},
            measures=measures or MBU,
            owner_email="brab@boras.example",
            now=now,
            s=S,
            cal=SwedishCalendar(),
        )
    )


def test_mbu_once_a_year_is_below_its_target_of_two() -> None:
    (n,) = evaluate(1, datetime(2027, 3, 10, 12, tzinfo=STHLM))
    assert (n.kind, n.key, n.recipients) == (
        "deviation",
        "deviation:boras.mbu.kommun:2026:utbildningar",
        ("brab@boras.example",),
    )
    assert n.data["value"] == 1 and n.data["target"] == 2


def test_at_or_above_target_is_no_deviation() -> None:
    assert evaluate(2, datetime(2027, 3, 10, 12, tzinfo=STHLM)) == []
    assert evaluate(5, datetime(2027, 3, 10, 12, tzinfo=STHLM)) == []


def test_a_deviation_recorded_on_a_saturday_goes_out_monday_at_08() -> None:
    (n,) = evaluate(0, datetime(2027, 3, 13, 12, tzinfo=STHLM))  # Saturday
    assert n.send_at == datetime(2027, 3, 15, 8, tzinfo=STHLM)


def test_a_measure_for_the_other_party_is_not_held_against_this_one() -> None:
    polis_only = [dict(MBU[0], parties=["polis"])]
    assert evaluate(0, datetime(2027, 3, 10, 12, tzinfo=STHLM), measures=polis_only) == []


def test_only_a_count_below_a_set_target_falls_short() -> None:
    assert deviation.falls_short(1, 2) and deviation.falls_short(1.5, 2)
    assert not deviation.falls_short(2, 2)
    assert not deviation.falls_short(0, None)
    assert not deviation.falls_short("1", 2)  # a text measure's value
    assert not deviation.falls_short(False, 2)  # a bool is not a count, though Python compares it as 0


def test_a_measure_naming_no_party_is_every_partys() -> None:
    both = {"id": "a", "parties": []}
    polis = {"id": "b", "parties": ["polis"]}
    unnamed = {"id": "c"}
    assert deviation.for_party([both, polis, unnamed], "kommun") == [both, unnamed]
    assert deviation.for_party([both, polis, unnamed], "polis") == [both, polis, unnamed]
    assert deviation.applies_to(None, "kommun") and not deviation.applies_to(("polis",), "kommun")
