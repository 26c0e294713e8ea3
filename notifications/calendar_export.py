"""Every coming deadline as an RFC 5545 calendar (Outlook and Google Calendar import it).

One all-day event per commitment's next follow-up due date (moved to a working day,
in the agreement's zone), one for the next revision's due date, each with alarms a
week and a day before. Which deadlines are still coming is engine.deadlines' to say,
by the agreement's local date. UIDs are stable, so importing again updates rather
than duplicates.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event
from sqlalchemy.orm import Session

from engine import db
from engine.db import Database
from engine.deadlines import coming_deadlines
from notifications.message import follow_up_uid, revision_uid
from rules.texts import DEFAULT_ZONE


def _event(uid: str, summary: str, description: str, day: date, stamp: datetime, today: date) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("summary", summary)
    event.add("description", description)
    event.add("transp", "TRANSPARENT")
    for before in (timedelta(days=7), timedelta(days=1)):
        # An all-day event's alarm rings at the start of that earlier day: one already past is left out.
        if day - before <= today:
            continue
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        alarm.add("trigger", -before)
        event.add_component(alarm)
    return event


def calendar_file(
    database: Database, *, now: datetime, unit: str | None = None, party: str | None = None
) -> tuple[bytes, int]:
    """``export_ics`` in a transaction of its own, for an edge that holds the database, not a session."""
    with db.transaction(database) as session:
        return export_ics(session, now=now, unit=unit, party=party)


def export_ics(
    session: Session, *, now: datetime, unit: str | None = None, party: str | None = None
) -> tuple[bytes, int]:
    """The coming deadlines (engine.deadlines) as an iCalendar file, and how many events it holds."""
    deadlines = coming_deadlines(session, now=now, unit=unit, party=party)
    ical = Calendar()
    ical.add("prodid", "-//samverkan//SE")
    ical.add("version", "2.0")
    ical.add("calscale", "GREGORIAN")
    ical.add("method", "PUBLISH")
    ical.add("x-wr-calname", "Samverkan – sista dagar")
    today = now.astimezone(ZoneInfo(deadlines.timezone) if deadlines.timezone else DEFAULT_ZONE).date()
    if deadlines.timezone is not None:  # all-day events; the name only tells a client where they are
        ical.add("x-wr-timezone", deadlines.timezone)
    for f in deadlines.follow_ups:
        ical.add_component(
            _event(
                follow_up_uid(f.commitment, f.period),
                f"Uppföljning {f.period}: {f.effort} ({f.party}) – sista dag",
                f"Rapportera aktivitetsmåtten för {f.period} för åtagandet {f.commitment}. Ansvarig: {f.unit}.",
                f.due,
                now,
                today,
            )
        )
    for r in deadlines.revisions:
        ical.add_component(
            _event(
                revision_uid(r.agreement, r.number),
                f"Revision {r.number} av samverkansöverenskommelsen – sista dag",
                f"{r.title}: revisionen av åtagandeplanen ska vara klar.",
                r.due,
                now,
                today,
            )
        )
    return bytes(ical.to_ical()), len(deadlines.follow_ups) + len(deadlines.revisions)
