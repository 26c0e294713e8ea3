"""The one way an event is written: a deadline as an RFC 5545 all-day VEVENT, through ``icalendar``.

The mail attachments (notifications.attachments) and the export (notifications.calendar_export)
both describe a deadline as a ``Deadline`` and write it with ``calendar``, so the same deadline
reads the same wherever it comes from: UID (engine.calendar_events), SEQUENCE (its stored
count of changes), DTSTAMP, all-day DTSTART/DTEND, a SUMMARY naming the insats and the
agreement, a DESCRIPTION with what to do and the link, URL, ORGANIZER (the process owner:
Outlook ignores an update whose organizer changed), STATUS, TRANSP, and alarms a week and a
day before that have not already rung by the agreement's own date.

Every calendar is ``METHOD:PUBLISH``: an event met since (the follow-up recorded) goes out as
the same UID with ``STATUS:CANCELLED`` and a higher SEQUENCE, its summary beginning "Klart:"
for a program that shows a cancelled event as it was. Why not ``METHOD:CANCEL`` is in
notifications.attachments.

``icalendar`` escapes text, folds lines at 75 octets on character boundaries and ends every
line with CRLF (tests/notifications/test_ics.py checks all three on what it writes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, vCalAddress

from rules.texts import DEFAULT_ZONE, datum

PRODID = "-//samverkan//SE"
ALARMS = (timedelta(days=7), timedelta(days=1))


@dataclass(frozen=True, kw_only=True)
class Deadline:
    """What one calendar event says."""

    uid: str
    sequence: int
    due: date
    summary: str
    description: str
    organizer: str | None = None  # an e-mail address
    url: str | None = None
    cancelled: bool = False
    timezone: str | None = None  # the agreement's: an alarm already past by its date is left out


def follow_up_summary(period: int, effort: str, party: str, agreement: str, *, done: bool = False) -> str:
    """``Uppföljning 2026: Trygghetsvandringar (polis) – Samverkansöverenskommelse … (sista dag)``."""
    what = f"Uppföljning {period}: {effort} ({party}) – {agreement}"
    return f"Klart: {what}" if done else f"{what} (sista dag)"


def follow_up_description(
    period: int, commitment: str, unit: str, due: date, owner: str | None, url: str | None
) -> str:
    text = f"Rapportera aktivitetsmåtten för {period} för åtagandet {commitment} senast {datum(due)}."
    if unit:
        text += f" Ansvarig: {unit}."
    if owner:
        text += f" Frågor: {owner}."
    return f"{text}\n\nFormuläret: {url}" if url else text


def follow_up_done_description(period: int, commitment: str, owner: str | None) -> str:
    text = f"Uppföljningen för {period} av åtagandet {commitment} är registrerad. Inget mer att göra."
    return f"{text} Frågor: {owner}." if owner else text


def revision_summary(number: int, agreement: str, *, done: bool = False) -> str:
    what = f"Revidering {number} av åtagandeplanen – {agreement}"
    return f"Klart: {what}" if done else f"{what} (sista dag)"


def revision_description(number: int, due: date, owner: str | None, url: str | None, *, done: bool = False) -> str:
    if done:
        text = f"Revidering {number} av åtagandeplanen är genomförd."
    else:
        text = f"Revidering {number} av åtagandeplanen ska vara klar senast {datum(due)}."
    if owner:
        text += f" Processägare: {owner}."
    return f"{text}\n\nRevideringen: {url}" if url and not done else text


def event(d: Deadline, *, stamp: datetime) -> Event:
    """The VEVENT of ``d`` as of ``stamp`` (DTSTAMP, and which alarms are still ahead)."""
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
    if d.cancelled:
        return e  # nothing to be reminded of
    for before in ALARMS:
        # An all-day event's alarm rings at the start of that earlier day: one already past is left out.
        if d.due - before <= today:
            continue
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        # Short: a client shows the event's own summary beside it (and a long one costs folding).
        alarm.add("description", f"Sista dag {datum(d.due)}")
        alarm.add("trigger", -before)
        e.add_component(alarm)
    return e


def calendar(
    deadlines: Iterable[Deadline], *, stamp: datetime, name: str | None = None, timezone: str | None = None
) -> bytes:
    """A ``METHOD:PUBLISH`` calendar of these events; ``name`` and ``timezone`` label it for a subscribing client."""
    ical = Calendar()
    ical.add("prodid", PRODID)
    ical.add("version", "2.0")
    ical.add("calscale", "GREGORIAN")
    ical.add("method", "PUBLISH")
    if name:
        ical.add("x-wr-calname", name)
    if timezone:  # all-day events; the name only tells a client where they are
        ical.add("x-wr-timezone", timezone)
    for d in deadlines:
        ical.add_component(event(d, stamp=stamp))
    return bytes(ical.to_ical())
