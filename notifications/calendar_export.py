"""Every coming deadline as an RFC 5545 calendar (Outlook and Google Calendar import it).

One all-day event per commitment's next follow-up due date (moved to a working day,
in the agreement's zone), one for the next revision's due date, each with alarms a
week and a day before. UIDs are stable, so importing again updates rather than
duplicates.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from icalendar import Alarm, Calendar, Event
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from engine import db
from engine.db import Database
from engine.models import AgreementRow, Commitment, EffortRow, PartyRow, UnitRow
from rules import lifecycle
from rules.errors import InvalidValue


def _event(uid: str, summary: str, description: str, day: date, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", f"{hashlib.sha256(uid.encode()).hexdigest()[:24]}@samverkan")
    event.add("dtstamp", stamp)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("summary", summary)
    event.add("description", description)
    event.add("transp", "TRANSPARENT")
    for before in (timedelta(days=7), timedelta(days=1)):
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
    if unit is not None and session.scalar(select(UnitRow.id).where(UnitRow.id == unit).limit(1)) is None:
        known = ", ".join(sorted(set(session.scalars(select(UnitRow.id)))))
        raise InvalidValue("unit", f"okänd enhet '{unit}' (enheter: {known})")
    if party is not None and session.scalar(select(PartyRow.id).where(PartyRow.id == party).limit(1)) is None:
        known = ", ".join(sorted(set(session.scalars(select(PartyRow.id)))))
        raise InvalidValue("party", f"okänd part '{party}' (parter: {known})")
    ical = Calendar()
    ical.add("prodid", "-//samverkan//SE")
    ical.add("version", "2.0")
    ical.add("calscale", "GREGORIAN")
    ical.add("method", "PUBLISH")
    ical.add("x-wr-calname", "Samverkan – sista dagar")
    ical.add("x-wr-timezone", "Europe/Stockholm")
    stmt = (
        select(Commitment, EffortRow.title, UnitRow.name)
        .join(EffortRow, and_(EffortRow.agreement_id == Commitment.agreement_id, EffortRow.id == Commitment.effort_id))
        .join(UnitRow, and_(UnitRow.agreement_id == Commitment.agreement_id, UnitRow.id == Commitment.responsible))
        .where(Commitment.state != lifecycle.AVSLUTAD, Commitment.next_due.is_not(None))
        .order_by(Commitment.next_due, Commitment.id)
    )
    if unit is not None:
        stmt = stmt.where(Commitment.responsible == unit)
    if party is not None:
        stmt = stmt.where(Commitment.party == party)
    count = 0
    today = now.date()
    for c, title, unit_name in session.execute(stmt):
        assert c.next_due is not None
        if c.next_due < today:
            continue
        ical.add_component(
            _event(
                f"followup:{c.id}:{c.period}",
                f"Uppföljning {c.period}: {title} ({c.party}) – sista dag",
                f"Rapportera aktivitetsmåtten för {c.period} för åtagandet {c.id}. Ansvarig: {unit_name}.",
                c.next_due,
                now,
            )
        )
        count += 1
    for a in session.scalars(select(AgreementRow).order_by(AgreementRow.id)):
        if a.terminates is not None:
            continue
        due = a.revision_due
        if due is None or due < today:
            continue
        ical.add_component(
            _event(
                f"revision:{a.id}:{a.revision_number}",
                f"Revision {a.revision_number} av samverkansöverenskommelsen – sista dag",
                f"{a.title}: revisionen av åtagandeplanen ska vara klar.",
                due,
                now,
            )
        )
        count += 1
    return bytes(ical.to_ical()), count
