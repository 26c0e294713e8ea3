"""What every .ics samverkan writes must hold (RFC 5545, and RFC 5546 for METHOD:PUBLISH): as a list of problems.

Used on the mail attachments and on the export alike, so both are held to the same rules:
the file parses back with ``icalendar`` and writes out the same again; every line ends
with CRLF, none is longer than 75 octets or cut inside a UTF-8 character; the calendar
has PRODID and VERSION:2.0; every VEVENT has UID, DTSTAMP (in UTC) and DTSTART, an
all-day DTEND after its DTSTART, a known STATUS, a SEQUENCE ≥ 0, an ORGANIZER and no
ATTENDEE (a published event), and no UID appears twice.
"""

from __future__ import annotations

from icalendar import Calendar


def problems(raw: bytes) -> list[str]:
    out: list[str] = []
    if not raw.endswith(b"\r\n"):
        out.append("the last line does not end with CRLF")
    for n, line in enumerate(raw.split(b"\r\n")[:-1], 1):
        if b"\n" in line or b"\r" in line:
            out.append(f"line {n} has a bare CR or LF")
        if len(line) > 75:
            out.append(f"line {n} is {len(line)} octets long")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            out.append(f"line {n} is cut inside a UTF-8 character")
        if line.startswith(b"DTSTAMP") and not line.endswith(b"Z"):
            out.append(f"line {n}: DTSTAMP is not in UTC")
    cal = Calendar.from_ical(raw)
    if Calendar.from_ical(cal.to_ical()) != cal:
        out.append("does not read back the same after writing it out again")
    for prop in ("PRODID", "VERSION"):
        if prop not in cal:
            out.append(f"the calendar has no {prop}")
    if str(cal.get("VERSION")) != "2.0":
        out.append(f"VERSION is {cal.get('VERSION')}")
    uids: list[str] = []
    for e in cal.walk("VEVENT"):
        uid = str(e.get("UID", ""))
        for prop in ("UID", "DTSTAMP", "DTSTART", "SEQUENCE", "ORGANIZER"):
            if prop not in e:
                out.append(f"event {uid or '?'} has no {prop}")
        if "ATTENDEE" in e:
            out.append(f"event {uid}: a published event has no attendees (RFC 5546 3.2.1)")
        if "DTEND" in e and e.decoded("DTEND") <= e.decoded("DTSTART"):
            out.append(f"event {uid}: DTEND is not after DTSTART")
        if str(e.get("STATUS", "CONFIRMED")) not in ("TENTATIVE", "CONFIRMED", "CANCELLED"):
            out.append(f"event {uid}: STATUS {e.get('STATUS')}")
        if int(e.get("SEQUENCE", 0)) < 0:
            out.append(f"event {uid}: SEQUENCE below 0")
        uids.append(uid)
    if len(uids) != len(set(uids)):
        out.append("a UID appears twice")
    return out
