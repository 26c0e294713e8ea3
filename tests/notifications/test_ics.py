"""The one event builder: a deadline as an RFC 5545 all-day event that calendar programs update."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from notifications import ics
from tests.notifications.rfc5545 import problems

STAMP = datetime(2027, 3, 1, 7, tzinfo=UTC)


def deadline(**kw: object) -> ics.Deadline:
    values: dict[str, object] = {
        "uid": "abc@samverkan",
        "sequence": 0,
        "due": date(2027, 3, 31),
        "summary": ics.follow_up_summary(2026, "Trygghetsvandringar", "polis", "Samverkansöverenskommelse Borås"),
        "description": "Rapportera",
        "organizer": "brab@boras.example",
        "timezone": "Europe/Stockholm",
    }
    return ics.Deadline(**{**values, **kw})  # type: ignore[arg-type]


def one(raw: bytes) -> Calendar:
    (event,) = Calendar.from_ical(raw).walk("VEVENT")
    return event


def test_a_deadline_is_an_all_day_published_event_with_every_property_a_client_needs() -> None:
    raw = ics.calendar([deadline(url="https://samverkan.boras.se/uppfoljning/t")], stamp=STAMP)
    assert problems(raw) == []
    cal = Calendar.from_ical(raw)
    assert (str(cal["method"]), str(cal["prodid"])) == ("PUBLISH", "-//samverkan//SE")
    e = one(raw)
    assert str(e["summary"]) == (
        "Uppföljning 2026: Trygghetsvandringar (polis) – Samverkansöverenskommelse Borås (sista dag)"
    )
    assert (e.decoded("dtstart"), e.decoded("dtend")) == (date(2027, 3, 31), date(2027, 4, 1))
    assert e.decoded("dtstamp") == STAMP
    assert (str(e["uid"]), int(e["sequence"]), str(e["status"])) == ("abc@samverkan", 0, "CONFIRMED")
    assert str(e["url"]) == "https://samverkan.boras.se/uppfoljning/t"
    assert str(e["organizer"]) == "mailto:brab@boras.example"
    assert sorted(a.decoded("trigger") for a in e.walk("VALARM")) == [timedelta(days=-7), timedelta(days=-1)]


def test_a_cancelled_event_says_so_and_rings_no_alarm() -> None:
    e = one(ics.calendar([deadline(cancelled=True, sequence=2)], stamp=STAMP))
    assert (str(e["status"]), int(e["sequence"])) == ("CANCELLED", 2)
    assert list(e.walk("VALARM")) == []
    done = ics.follow_up_summary(2026, "Trygghetsvandringar", "polis", "Borås", done=True)
    assert done.startswith("Klart: Uppföljning 2026: Trygghetsvandringar") and "sista dag" not in done


def test_no_alarm_that_has_already_rung_by_the_agreements_own_date() -> None:
    def triggers(at: datetime, zone: str = "Europe/Stockholm") -> list[timedelta]:
        e = one(ics.calendar([deadline(timezone=zone)], stamp=at))
        return sorted(a.decoded("trigger") for a in e.walk("VALARM"))

    both = [timedelta(days=-7), timedelta(days=-1)]
    assert triggers(datetime(2027, 3, 23, 12, tzinfo=UTC)) == both
    assert triggers(datetime(2027, 3, 24, 12, tzinfo=UTC)) == [timedelta(days=-1)]  # a week before: rung
    assert triggers(datetime(2027, 3, 29, 12, tzinfo=UTC)) == [timedelta(days=-1)]
    assert triggers(datetime(2027, 3, 30, 12, tzinfo=UTC)) == []
    # 22:30 UTC on 23 March is already 24 March in Helsinki (UTC+2): the week-before alarm has rung there.
    late = datetime(2027, 3, 23, 22, 30, tzinfo=UTC)
    assert triggers(late, "Europe/Helsinki") == [timedelta(days=-1)]
    assert triggers(late, "America/Sao_Paulo") == both


def test_text_is_escaped_and_folded_and_reads_back() -> None:
    summary = "Uppföljning 2026; MBU, kommunen \\ polisen – " + "åäö " * 30
    raw = ics.calendar([deadline(summary=summary, description="rad ett\nrad två")], stamp=STAMP)
    assert problems(raw) == []
    e = one(raw)
    assert str(e["summary"]) == summary
    assert str(e["description"]) == "rad ett\nrad två"


def test_several_events_in_one_calendar_each_hold_the_rules() -> None:
    events = [deadline(uid=f"{n}@samverkan", sequence=n, cancelled=n % 2 == 1) for n in range(14)]
    raw = ics.calendar(events, stamp=STAMP, name="Samverkan – sista dagar", timezone="Europe/Stockholm")
    assert problems(raw) == []
    cal = Calendar.from_ical(raw)
    assert len(cal.walk("VEVENT")) == 14
    assert str(cal["x-wr-timezone"]) == "Europe/Stockholm"


# Any printable text, with 2-, 3- and 4-octet UTF-8 characters at every cut position.
_TEXT = st.text(alphabet=st.sampled_from("a ,;\\åäöÅ–€𝄞🙂x\n"), min_size=0, max_size=200).filter(
    lambda s: s.strip() == s
)


@given(summary=_TEXT.filter(lambda s: len(s) > 60), description=_TEXT)
@settings(max_examples=150, deadline=None)
def test_any_text_folds_on_character_boundaries_and_reads_back(summary: str, description: str) -> None:
    raw = ics.calendar([deadline(summary=summary, description=description or "-")], stamp=STAMP)
    assert problems(raw) == []
    e = one(raw)
    assert (str(e["summary"]), str(e["description"])) == (summary, description or "-")
