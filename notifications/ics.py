"""The one way an event is written: a deadline as an RFC 5545 all-day VEVENT.

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

The lines are written here, escaped, folded at 75 octets on character boundaries and ended
with CRLF, byte for byte as ``icalendar`` wrote them before (tests/notifications/test_ics.py
holds the two side by side; ``icalendar`` stays the reader and validator of the tests).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

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


# The lines are written here rather than through ``icalendar``'s ``Calendar.to_ical``: that
# built a component tree per event and folded every line a character at a time, 3.9 ms of
# the ~10 ms a grouped mail of ten reminders cost (bench/mail.py, docs/performance.md).
# The set of properties is small and fixed, so the writer below produces the very bytes
# icalendar wrote: its property order, escaping and folding (tests/notifications/test_ics.py
# compares the two byte for byte on generated text, and icalendar still reads every file
# back in the tests, tests/notifications/rfc5545.py).

_FOLD = 74  # icalendar folds before a line would reach 75 octets; a continuation adds its space


def _text(value: str) -> str:
    """An RFC 5545 TEXT value (3.3.11), escaped in icalendar's order: ``\\N`` read as a newline first."""
    return (
        value.replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _raw(name: str, value: str) -> str:
    """A value written as it is (URI, CAL-ADDRESS, X- names): a line break in it would end the line."""
    if "\n" in value or "\r" in value:
        raise ValueError(f"{name}: a line break cannot be written in this property ({value[:60]!r})")
    return value


def _fold(line: str) -> bytes:
    """One content line as octets, folded as icalendar folds it (RFC 5545 3.1).

    Pieces of at most 74 octets, cut on UTF-8 character boundaries, joined by CRLF and a
    space; a piece that would end in a backslash or a caret gives it to the next piece, so
    an escape such as ``\\,`` is never split across a fold (icalendar issue #1501).
    """
    data = line.encode()
    if len(data) <= _FOLD:
        return data
    pieces: list[bytes] = []
    while len(data) > _FOLD:
        cut = _FOLD
        while data[cut] & 0xC0 == 0x80:  # a continuation octet: its character began earlier
            cut -= 1
        if data[cut - 1] in b"\\^":
            cut -= 1
        pieces.append(data[:cut])
        data = data[cut:]
    pieces.append(data)
    return b"\r\n ".join(pieces)


def _utc(stamp: datetime) -> str:
    # Naive means UTC, as icalendar reads it; microseconds are not written.
    at = stamp.astimezone(UTC) if stamp.tzinfo is not None else stamp
    return f"{at.year:04d}{at.month:02d}{at.day:02d}T{at.hour:02d}{at.minute:02d}{at.second:02d}Z"


def _day(d: date) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


def _before(delta: timedelta) -> str:
    """A negative whole-day TRIGGER, as icalendar's vDuration writes it (``-P7D``)."""
    if delta.seconds or delta.microseconds or delta.days <= 0:
        raise ValueError(f"an alarm is a whole number of days before, not {delta}")
    return f"-P{delta.days}D"


def event_lines(d: Deadline, *, stamp: datetime) -> list[str]:
    """The VEVENT of ``d`` as of ``stamp`` (DTSTAMP, and which alarms are still ahead), unfolded."""
    today = stamp.astimezone(ZoneInfo(d.timezone) if d.timezone else DEFAULT_ZONE).date()
    # icalendar's order: its canonical properties of an event first, then the rest by name.
    lines = [
        "BEGIN:VEVENT",
        f"SUMMARY:{_text(d.summary)}",
        f"DTSTART;VALUE=DATE:{_day(d.due)}",
        f"DTEND;VALUE=DATE:{_day(d.due + timedelta(days=1))}",
        f"DTSTAMP:{_utc(stamp)}",
        f"UID:{_text(d.uid)}",
        f"SEQUENCE:{int(d.sequence)}",
        f"DESCRIPTION:{_text(d.description)}",
    ]
    if d.organizer:
        lines.append(f"ORGANIZER:{_raw('ORGANIZER', f'mailto:{d.organizer}')}")
    lines.append(f"STATUS:{'CANCELLED' if d.cancelled else 'CONFIRMED'}")
    lines.append("TRANSP:TRANSPARENT")
    if d.url:
        lines.append(f"URL:{_raw('URL', d.url)}")
    if not d.cancelled:  # a cancelled event has nothing to be reminded of
        for before in ALARMS:
            # An all-day event's alarm rings at the start of that earlier day: one already past is left out.
            if d.due - before <= today:
                continue
            lines += [
                "BEGIN:VALARM",
                "ACTION:DISPLAY",
                # Short: a client shows the event's own summary beside it (and a long one costs folding).
                f"DESCRIPTION:{_text(f'Sista dag {datum(d.due)}')}",
                f"TRIGGER:{_before(before)}",
                "END:VALARM",
            ]
    lines.append("END:VEVENT")
    return lines


def calendar(
    deadlines: Iterable[Deadline], *, stamp: datetime, name: str | None = None, timezone: str | None = None
) -> bytes:
    """A ``METHOD:PUBLISH`` calendar of these events; ``name`` and ``timezone`` label it for a subscribing client."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{_text(PRODID)}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH"]
    if name:
        lines.append(f"X-WR-CALNAME:{_raw('X-WR-CALNAME', name)}")
    if timezone:  # all-day events; the name only tells a client where they are
        lines.append(f"X-WR-TIMEZONE:{_raw('X-WR-TIMEZONE', timezone)}")
    for d in deadlines:
        lines += event_lines(d, stamp=stamp)
    lines.append("END:VCALENDAR")
    return b"\r\n".join(map(_fold, lines)) + b"\r\n"
