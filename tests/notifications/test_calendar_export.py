"""`samverkan calendar`: coming deadlines as RFC 5545 that calendar programs import."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import Engine, select, update

from engine import db
from engine.agreement import Agreement
from engine.calendar_events import follow_up_uid
from engine.models import AgreementRow, OutboxRow
from engine.plan import load_plan
from engine.tick import tick
from notifications.attachments import calendar_attachment, prepare_calendar
from notifications.context import contexts
from samverkan.cli import main
from tests.notifications.rfc5545 import problems

STHLM = ZoneInfo("Europe/Stockholm")
TITLE = "Samverkansöverenskommelse mellan Borås Stad och Polismyndigheten, lokalpolisområde Borås"
MBU = "boras.mbu.polis"


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
    raw = out.read_bytes()
    assert problems(raw) == []  # RFC 5545: CRLF, 75 octets, UID, DTSTAMP, DTSTART, PRODID, VERSION
    return Calendar.from_ical(raw)


def test_every_coming_deadline_is_an_all_day_event_with_alarms(url: str, tmp_path: Path) -> None:
    cal = export(url, tmp_path)
    events = list(cal.walk("VEVENT"))
    assert len(events) == 28 + 1  # running commitments' 2026 reports, and revision 4
    follow = [e for e in events if str(e["summary"]).startswith("Uppföljning 2026")]
    assert {e.decoded("dtstart") for e in follow} == {date(2027, 3, 31)}
    assert all(str(e["summary"]).endswith(f"– {TITLE} (sista dag)") for e in events)  # the insats and the agreement
    assert f"Uppföljning 2026: MBU – Människan bakom uniformen (polis) – {TITLE} (sista dag)" in {
        str(e["summary"]) for e in follow
    }
    (rev,) = [e for e in events if str(e["summary"]).startswith("Revidering 4")]
    assert rev.decoded("dtstart") == date(2027, 12, 14)
    assert {int(e["sequence"]) for e in events} == {0} and {str(e["status"]) for e in events} == {"CONFIRMED"}
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
    assert summaries("2027-03-31T21:30+00:00") == ["Revidering 4 av "] + ["Uppföljning 2026"] * 28
    # 00:30 on 1 April in Stockholm, though still 31 March in UTC: only the revision is still coming.
    assert summaries("2027-03-31T22:30+00:00") == ["Revidering 4 av "]


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


# -- after a report --------------------------------------------------------------------------------


def by_uid(cal: Calendar) -> dict[str, Any]:
    return {str(e["uid"]): e for e in cal.walk("VEVENT")}


@pytest.fixture
def reported(url: str, tmp_path: Path) -> Path:
    """The −30 reminders sent on 1 March 2027; MBU polis reports on 10 March. Returns the settings file."""
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        f"mailer: file\nmail_dir: {tmp_path / 'outbox'}\ndigest: false\nbase_url: https://samverkan.boras.example/\n",
        encoding="utf-8",
    )
    assert main(["tick", "--db", url, "--now", "2027-03-01T08:00"]) == 0
    assert main(["deliver", "--db", url, "--settings", str(settings), "--now", "2027-03-01T08:00"]) == 0
    report = ["followup", "mbu.polis", "--period", "2026", "--value", "utbildningar=2", "--comment", "Två"]
    assert main([*report, "--by", "Kommunpolisen", "--db", url, "--now", "2027-03-10T10:00"]) == 0
    return settings


def test_after_a_report_the_export_cancels_its_event_beside_the_next_periods(
    url: str, reported: Path, tmp_path: Path
) -> None:
    events = by_uid(export(url, tmp_path, "--settings", str(reported), now="2027-03-10T11:00"))
    done, coming = events[follow_up_uid(MBU, 2026)], events[follow_up_uid(MBU, 2027)]
    assert (str(done["status"]), int(done["sequence"]), done.decoded("dtstart")) == ("CANCELLED", 1, date(2027, 3, 31))
    assert str(done["summary"]).startswith("Klart: Uppföljning 2026: MBU") and list(done.walk("VALARM")) == []
    assert (str(coming["status"]), int(coming["sequence"]), coming.decoded("dtstart")) == (
        "CONFIRMED",
        0,
        date(2028, 3, 31),
    )
    assert str(coming["summary"]) == f"Uppföljning 2027: MBU – Människan bakom uniformen (polis) – {TITLE} (sista dag)"
    assert str(coming["url"]) == "https://samverkan.boras.example/atagande/boras.mbu.polis/uppfoljning"
    assert str(coming["url"]) in str(coming["description"])
    assert len(events) == 28 + 1 + 1  # 27 for 2026, MBU polis's 2027, the revision, and the cancelled one
    # Exported again, nothing changed: the same SEQUENCEs.
    again = by_uid(export(url, tmp_path, now="2027-03-11T11:00"))
    assert {u: int(e["sequence"]) for u, e in again.items()} == {u: int(e["sequence"]) for u, e in events.items()}
    # Once its day has passed, the cancelled event is left out.
    assert follow_up_uid(MBU, 2026) not in by_uid(export(url, tmp_path, now="2027-04-01T10:00"))


def test_the_calendar_the_status_and_the_next_mail_agree_on_the_next_due_date_after_a_report(
    url: str, engine: Engine, reported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["status", "--db", url, "--json"]) == 0
    (row,) = [r for r in json.loads(capsys.readouterr().out) if r["id"] == MBU]
    assert (row["state"], row["period"], row["next_due"], row["due_period"]) == ("uppföljd", 2026, "2028-03-31", 2027)
    assert main(["status", "--db", url, "--unit", "kommunpolis"]) == 0
    assert "2028-03-31 (för 2027)" in capsys.readouterr().out
    exported = by_uid(export(url, tmp_path, "--unit", "kommunpolis", now="2027-03-10T11:00"))
    coming = [e for e in exported.values() if "MBU" in str(e["summary"]) and str(e["status"]) == "CONFIRMED"]
    assert [e.decoded("dtstart") for e in coming] == [date(2028, 3, 31)]
    # The next period opens on 1 January 2028; its first reminder carries the very same event.
    tick(engine, datetime(2028, 1, 1, 0, 5, tzinfo=STHLM))
    tick(engine, datetime(2028, 3, 1, 8, tzinfo=STHLM))
    with db.transaction(engine) as s:
        (mail,) = s.scalars(
            select(OutboxRow).where(
                OutboxRow.commitment_id == MBU, OutboxRow.kind == "reminder", OutboxRow.period == 2027
            )
        )
        ctx = contexts(s, [mail], now=datetime(2028, 3, 1, 8, tzinfo=STHLM))
        prepare_calendar(s, [mail], ctx, datetime(2028, 3, 1, 8, tzinfo=STHLM))
        made = calendar_attachment([(mail, ctx[mail.id])], datetime(2028, 3, 1, 8, tzinfo=STHLM))
    assert made is not None
    (e,) = Calendar.from_ical(made.content).walk("VEVENT")
    assert (str(e["uid"]), e.decoded("dtstart"), int(e["sequence"])) == (
        str(coming[0]["uid"]),
        date(2028, 3, 31),
        int(coming[0]["sequence"]),
    )
