"""`samverkan calendar`: coming deadlines as RFC 5545 that calendar programs import."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import Engine, update

from engine import db
from engine.agreement import Agreement
from engine.models import AgreementRow
from engine.plan import load_plan
from engine.tick import tick
from samverkan.cli import main

STHLM = ZoneInfo("Europe/Stockholm")


@pytest.fixture
def url(engine: Engine, boras: Agreement) -> str:
    now = datetime(2026, 11, 24, 9, tzinfo=STHLM)
    with db.transaction(engine) as s:
        load_plan(s, boras, now=now)
    tick(engine, now)
    return engine.url.render_as_string(hide_password=False)


def export(url: str, tmp_path: Path, *flags: str, now: str = "2026-11-24T10:00") -> Calendar:
    out = tmp_path / "deadlines.ics"
    assert main(["calendar", "--db", url, "--out", str(out), "--now", now, *flags]) == 0
    return Calendar.from_ical(out.read_bytes())


def test_every_coming_deadline_is_an_all_day_event_with_alarms(url: str, tmp_path: Path) -> None:
    cal = export(url, tmp_path)
    events = list(cal.walk("VEVENT"))
    assert len(events) == 28 + 1  # running commitments' 2026 reports, and revision 4
    follow = [e for e in events if str(e["summary"]).startswith("Uppföljning 2026")]
    assert {e.decoded("dtstart") for e in follow} == {date(2027, 3, 31)}
    (rev,) = [e for e in events if str(e["summary"]).startswith("Revision 4")]
    assert rev.decoded("dtstart") == date(2027, 12, 14)
    for e in events:
        assert e.decoded("dtend") - e.decoded("dtstart") == timedelta(days=1)
        triggers = sorted(a.decoded("trigger") for a in e.walk("VALARM"))
        assert triggers == [timedelta(days=-7), timedelta(days=-1)]
    assert len({str(e["uid"]) for e in events}) == len(events)
    assert str(cal["version"]) == "2.0" and "samverkan" in str(cal["prodid"])


def test_a_deadline_is_past_when_its_day_has_ended_in_the_agreements_zone(url: str, tmp_path: Path) -> None:
    def summaries(now: str) -> list[str]:
        return sorted(str(e["summary"])[:16] for e in export(url, tmp_path, now=now).walk("VEVENT"))

    # 23:30 on 31 March in Stockholm: the day of the 2026 follow-ups is not over.
    assert summaries("2027-03-31T21:30+00:00") == ["Revision 4 av sa"] + ["Uppföljning 2026"] * 28
    # 00:30 on 1 April in Stockholm, though still 31 March in UTC: only the revision is still coming.
    assert summaries("2027-03-31T22:30+00:00") == ["Revision 4 av sa"]


def test_a_unit_gets_only_its_own_deadlines(url: str, tmp_path: Path) -> None:
    events = list(export(url, tmp_path, "--unit", "kommunpolis").walk("VEVENT"))
    follow = [e for e in events if str(e["summary"]).startswith("Uppföljning")]
    assert len(follow) == 14  # every polis commitment but Trafik, which had ended
    assert all("(polis)" in str(e["summary"]) for e in follow)


def test_an_unknown_unit_is_one_line_and_no_file(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.ics"
    assert main(["calendar", "--db", url, "--unit", "socialtjansten", "--out", str(out)]) == 2
    assert "okänd enhet 'socialtjansten'" in capsys.readouterr().err
    assert not out.exists()


def test_the_calendar_names_the_agreements_own_time_zone(url: str, engine: Engine, tmp_path: Path) -> None:
    assert str(export(url, tmp_path)["x-wr-timezone"]) == "Europe/Stockholm"
    with db.transaction(engine) as s:
        s.execute(update(AgreementRow).values(timezone="Europe/Helsinki"))
    assert str(export(url, tmp_path)["x-wr-timezone"]) == "Europe/Helsinki"


def test_no_alarm_is_exported_that_has_already_rung(url: str, tmp_path: Path) -> None:
    # Borås's follow-ups are due 31 March 2027: on 26 March the week-before alarm (24 March) is past.
    events = [e for e in export(url, tmp_path, now="2027-03-26T10:00").walk("VEVENT") if "Uppföljning" in e["summary"]]
    assert events and all(len(e.subcomponents) == 1 for e in events)
    assert all(e.subcomponents[0].decoded("trigger") == -timedelta(days=1) for e in events)
