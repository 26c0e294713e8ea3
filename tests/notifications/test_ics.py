"""The one event builder: a deadline as an RFC 5545 all-day event that calendar programs update."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Alarm, Calendar, Event, vCalAddress

from notifications import ics
from rules.texts import DEFAULT_ZONE, datum
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


# -- the writer is icalendar's output, byte for byte ------------------------------------
#
# notifications.ics writes the lines itself (icalendar's serialisation was most of a grouped
# mail's build, bench/mail.py). This is the builder it replaced, through icalendar, kept as the
# reference: for any text the two must write the same octets, so nothing a calendar program
# reads has changed.


def icalendar_reference(
    deadlines: list[ics.Deadline], *, stamp: datetime, name: str | None = None, timezone: str | None = None
) -> bytes:
    cal = Calendar()
    cal.add("prodid", ics.PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    if name:
        cal.add("x-wr-calname", name)
    if timezone:
        cal.add("x-wr-timezone", timezone)
    for d in deadlines:
        today = stamp.astimezone(ZoneInfo(d.timezone) if d.timezone else DEFAULT_ZONE).date()
        e = Event()
        e.add("uid", d.uid)
        e.add("sequence", d.sequence)
        e.add("dtstamp", stamp)
        e.add("dtstart", d.due)
        e.add("dtend", d.due + timedelta(days=1))
        e.add("summary", d.summary)
        e.add("description", d.description)
        if d.url:
            e.add("url", d.url)
        if d.organizer:
            e.add("organizer", vCalAddress(f"mailto:{d.organizer}"))
        e.add("status", "CANCELLED" if d.cancelled else "CONFIRMED")
        e.add("transp", "TRANSPARENT")
        if not d.cancelled:
            for before in ics.ALARMS:
                if d.due - before <= today:
                    continue
                alarm = Alarm()
                alarm.add("action", "DISPLAY")
                alarm.add("description", f"Sista dag {datum(d.due)}")
                alarm.add("trigger", -before)
                e.add_component(alarm)
        cal.add_component(e)
    return bytes(cal.to_ical())


# Every character class the escaping and folding treat apart: the TEXT specials, line breaks,
# a backslash before N and before the fold, the caret, 2-, 3- and 4-octet UTF-8, a tab.
_ANY = st.text(alphabet=st.sampled_from("aZ09 ,;:\\^Nn\"'\t\r\nåäöÅé–€𝄞🙂x/"), max_size=300)
# Values written raw (a URI, an address, a calendar's name): anything but a line break or a backslash
# (none has one, and icalendar reads a URL's backslash as an escape).
_RAW = st.text(alphabet=st.sampled_from("aZ09 ,;:^/?=&%#.-_~åé–🙂"), min_size=1, max_size=200)
_URL = st.builds(lambda tail: f"https://samverkan.boras.se/uppfoljning/{tail}", _RAW)


@st.composite
def _deadlines(draw: st.DrawFn) -> ics.Deadline:
    return ics.Deadline(
        uid=draw(st.one_of(st.just("3f2a9c@samverkan"), _ANY.filter(bool))),
        sequence=draw(st.integers(min_value=0, max_value=10_000)),
        due=draw(st.dates(min_value=date(1900, 1, 1), max_value=date(9998, 12, 30))),
        summary=draw(_ANY),
        description=draw(_ANY),
        organizer=draw(st.one_of(st.none(), st.just("brab@boras.example"), _RAW)),
        url=draw(st.one_of(st.none(), _URL)),
        cancelled=draw(st.booleans()),
        timezone=draw(st.sampled_from([None, "Europe/Stockholm", "Europe/Helsinki", "America/Sao_Paulo"])),
    )


# Aware in any zone (written in UTC), with microseconds (not written). Hypothesis takes naive bounds.
_STAMPS = st.datetimes(
    min_value=datetime(1990, 1, 2),  # noqa: DTZ001
    max_value=datetime(2090, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, ZoneInfo("Europe/Stockholm"), ZoneInfo("America/Sao_Paulo")]),
)


@given(
    deadlines=st.lists(_deadlines(), max_size=4),
    stamp=_STAMPS,
    name=st.one_of(st.none(), _RAW),
    timezone=st.one_of(st.none(), st.just("Europe/Stockholm"), _RAW),
)
@settings(max_examples=250, deadline=None)
def test_the_writer_writes_the_very_octets_icalendar_wrote(
    deadlines: list[ics.Deadline], stamp: datetime, name: str | None, timezone: str | None
) -> None:
    raw = ics.calendar(deadlines, stamp=stamp, name=name, timezone=timezone)
    assert raw == icalendar_reference(deadlines, stamp=stamp, name=name, timezone=timezone)
    # The generated events may lack an organizer or share a UID, which ours never do; the rest holds.
    assert [p for p in problems(raw) if "ORGANIZER" not in p and "UID appears twice" not in p] == []
    # And icalendar reads back what was meant. Not for a text with a backslash: icalendar's own
    # reading of an escaped backslash before an "n" is a line break, whoever wrote the file.
    events = Calendar.from_ical(raw).walk("VEVENT")
    for e, d in zip(events, deadlines, strict=True):
        for prop, text in (("summary", d.summary), ("description", d.description)):
            if "\\" not in text:
                # CR LF and a lone CR are a line break in TEXT, written as one.
                assert str(e[prop]) == text.replace("\r\n", "\n").replace("\r", "\n")
        assert str(e.get("url", "")) == (d.url or "")
        assert (int(e["sequence"]), e.decoded("dtstart")) == (d.sequence, d.due)


def test_a_line_break_in_a_value_written_as_it_is_is_refused() -> None:
    # icalendar refused it too (an assertion): written, it would end the line and start another property.
    for broken in ({"url": "https://x.example/\r\nATTENDEE:a"}, {"organizer": "a@b.example\nX:1"}):
        with pytest.raises(ValueError, match="line break"):
            ics.calendar([deadline(**broken)], stamp=STAMP)
