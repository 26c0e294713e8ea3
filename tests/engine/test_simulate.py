"""`samverkan simulate`: a decade of the Borås agreement on a virtual clock."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.agreement import Agreement, parse_agreement
from engine.simulate import Event, simulate
from rules.calendar import SwedishCalendar
from samverkan.cli import main

ROOT = Path(__file__).resolve().parents[2]
BORAS = str(ROOT / "config" / "boras-2015.yaml")
MINIMAL = str(ROOT / "tests" / "data" / "minimal.yaml")
NOTICE_KINDS = {
    "reminder",
    "overdue",
    "escalation",
    "revision_kickoff",
    "revision_overdue",
    "change_notice",
    "termination_notice",
    "deviation",
}


@pytest.fixture(scope="module")
def decade(boras: Agreement) -> list[Event]:
    return list(simulate([boras], date(2016, 1, 1), date(2028, 12, 31)))


def test_revision_kickoffs_come_in_2018_2021_2024_and_2027_only(decade: list[Event]) -> None:
    kickoffs = [e for e in decade if e.kind == "revision_kickoff"]
    assert [e.at.year for e in kickoffs] == [2018, 2021, 2024, 2027]
    for e in kickoffs:
        assert set(e.recipients) == {"brab@boras.example", "kommunpolis@polisen.example"}


def test_every_active_commitment_is_reminded_every_year_at_its_own_units_address(
    decade: list[Event], boras: Agreement
) -> None:
    unit_email = {u.id: str(u.email) for u in boras.units}
    expected = {
        f"boras.{effort.id}.{party}": unit_email[spec.responsible] for _, effort, party, spec in boras.commitments()
    }
    reminded: dict[tuple[str, int], set[str]] = {}
    for e in decade:
        if e.kind == "reminder":
            assert e.commitment is not None
            assert e.recipients == (expected[e.commitment],), e
            reminded.setdefault((e.commitment, e.details["period"]), set()).add(e.details["key"].rsplit(":", 1)[1])
    for cid in expected:
        last = 2018 if ".trafik." in cid else 2027  # Trafik 2016–2018 ends after its 2018 follow-up
        for period in range(2016, last + 1):
            assert reminded.get((cid, period)) == {"-30", "-7", "0"}, (cid, period)
    assert not [k for k in reminded if ".trafik." in k[0] and k[1] > 2018]


def test_trafik_ends_after_its_2018_follow_up(decade: list[Event]) -> None:
    ends = [e for e in decade if e.kind == "transition" and e.details["to"] == "avslutad"]
    assert sorted(e.commitment or "" for e in ends) == ["boras.trafik.kommun", "boras.trafik.polis"]
    assert {e.at.date() for e in ends} == {date(2019, 4, 1)}  # 2019-03-31 is a Sunday


def test_no_notice_goes_out_on_a_non_working_day(decade: list[Event]) -> None:
    cal = SwedishCalendar()
    for e in decade:
        if e.kind in NOTICE_KINDS:
            assert cal.is_working_day(e.at.date()), e
            assert (e.at.hour, e.at.minute) == (8, 0), e


def test_no_event_happens_twice(decade: list[Event]) -> None:
    keys = [e.details["key"] for e in decade if e.kind in NOTICE_KINDS]
    assert len(keys) == len(set(keys))
    moves = Counter((e.commitment, e.at, e.details.get("trigger")) for e in decade if e.kind == "transition")
    assert max(moves.values()) == 1


def test_events_are_in_time_order(decade: list[Event]) -> None:
    assert [e.at for e in decade] == sorted(e.at for e in decade)


def test_without_follow_ups_the_overdue_notices_and_escalations_show(boras: Agreement) -> None:
    events = list(simulate([boras], date(2016, 1, 1), date(2017, 6, 30), follow_ups="never"))
    kinds = Counter(e.kind for e in events)
    # Four commitments are BråB's own: nobody is escalated to themselves.
    assert kinds["escalation"] == 26
    assert {e.recipients for e in events if e.kind == "escalation"} == {("brab@boras.example",)}
    assert kinds["overdue"] >= 30 * 3  # 1 April, then every 14 days until 30 June
    assert kinds["reminder"] == 30 * 3


def test_simulate_json_prints_one_object_per_event_with_the_stable_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", "--config", BORAS, "--from", "2016-01-01", "--to", "2019-12-31", "--json"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and lines
    for line in lines:
        event = json.loads(line)
        assert datetime.fromisoformat(event["at"]).utcoffset() is not None
        assert event["kind"] in NOTICE_KINDS | {"transition"}
        assert isinstance(event["recipients"], list)
        assert "commitment" in event or "agreement" in event
        if event["kind"] == "transition":
            assert {"from", "to"} <= set(event)
        else:
            assert event["recipients"] and all("@" in r for r in event["recipients"])


def test_simulate_timeline_is_swedish_and_says_nothing_was_sent(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--config", BORAS, "--from", "2018-01-01", "--to", "2018-12-31"]) == 0
    out = capsys.readouterr().out
    assert "2018-10-15 08:00  revideringsstart" in out
    assert "påminnelse" in out and out.rstrip().endswith("Inget skickades.")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "2016-13-01", "--to", "2017-01-01"], "--from: ogiltigt datum '2016-13-01'"),
        (["--from", "2017-01-01", "--to", "2016-01-01"], "--to: 2016-01-01 ligger före --from 2017-01-01"),
    ],
)
def test_simulate_bad_dates_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["simulate", "--config", BORAS, *argv]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"samverkan: fel: {message}" or message in err
    assert len(err.strip().splitlines()) == 1


def _boras_with(**replacements: str) -> Agreement:
    text = Path(BORAS).read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    return parse_agreement(text, "boras-variant.yaml")


def test_with_a_due_date_early_in_the_year_every_reminder_of_every_year_goes_on_its_working_day() -> None:
    """Due 6 January: the -30 and -7 reminders fall in December of the period's own year."""
    early = _boras_with(**{'due: "03-31"': 'due: "01-06"'})
    events = list(simulate([early], date(2016, 1, 1), date(2026, 12, 31)))
    cal = SwedishCalendar()
    reminded: dict[tuple[str, int], list[str]] = {}
    for e in events:
        if e.kind == "reminder":
            assert cal.is_working_day(e.at.date()) and (e.at.hour, e.at.minute) == (8, 0), e
            reminded.setdefault((e.commitment or "", e.details["period"]), []).append(e.details["key"].rsplit(":")[-1])
    cid = "boras.bra-samordning.kommun"
    for period in range(2016, 2026):
        assert sorted(reminded[(cid, period)]) == ["-30", "-7", "0"], period
    # The -30 reminder of 2017's report is in December 2017, not lost, and none goes out on 1 January.
    assert [e.at.date() for e in events if e.kind == "reminder" and e.details["key"] == f"reminder:{cid}:2017:-30"] == [
        date(2017, 12, 8)
    ]
    assert not [e for e in events if e.at.month == 1 and e.at.day == 1 and e.kind != "transition"]


def test_an_agreement_signed_on_29_february_is_revised_on_its_anniversaries_from_signing() -> None:
    leap = parse_agreement(Path(MINIMAL).read_text(encoding="utf-8").replace("every_years: 3", "every_years: 2"), "x")
    events = list(simulate([leap], date(2020, 3, 1), date(2028, 12, 31), revisions="never"))
    dues = [e.details["due"] for e in events if e.kind == "revision_kickoff"]
    assert dues == ["2022-02-28", "2024-02-29", "2026-03-02", "2028-02-29"]  # 2026-02-28 is a Saturday


def test_simulate_stops_with_one_swedish_line_when_the_engine_cannot_advance(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A rule that keeps asking to be woken at the same instant (a bug) must not spin for ever.
    import engine.simulate as sim

    stuck = datetime(2016, 3, 1, 8, tzinfo=ZoneInfo("Europe/Stockholm"))
    monkeypatch.setattr(sim, "next_wakeup", lambda _engine: stuck)
    assert main(["simulate", "--config", BORAS, "--from", "2016-01-01", "--to", "2016-12-31"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == "samverkan: fel: simuleringen av överenskommelsen boras kommer inte vidare från 2016-03-01T08:00+01:00"
    )
