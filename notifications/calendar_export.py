"""Every coming deadline as an RFC 5545 calendar (Outlook, Google Calendar and Apple Calendar import it).

One all-day event per commitment's next follow-up (the period asked for next: after a
report, the next period's; engine.deadlines), one for the next revision, each with
alarms a week and a day before that have not rung yet. The same events as the mails'
attachments (notifications.ics, notifications.attachments): the same UID, the same
SEQUENCE (engine.calendar_events, stamped in this transaction), the same words.

A follow-up recorded (or a revision completed) whose event a mail or an export has
carried, and whose day is still ahead, is carried as that event cancelled
(``STATUS:CANCELLED``, SEQUENCE raised, "Klart:", no alarm), next to the next period's
event: a calendar that imports the file again updates or strikes it instead of keeping
a deadline that was met as one still to meet.

``base_url`` (the web's address) gives each event a URL: the commitment's follow-up form
(``/atagande/<id>/uppfoljning``, behind the sign-in; a file that may be passed on carries
no personal link) or the revision page.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from urllib.parse import quote

from sqlalchemy.orm import Session

from engine import db
from engine.calendar_events import follow_up_uid, revision_uid, stamp_all
from engine.db import Database
from engine.deadlines import FollowUpDeadline, RevisionDeadline, coming_deadlines
from notifications import ics

NAME = "Samverkan – sista dagar"


def calendar_file(
    database: Database,
    *,
    now: datetime,
    unit: str | None = None,
    party: str | None = None,
    base_url: str | None = None,
) -> tuple[bytes, int]:
    """``export_ics`` in a transaction of its own, for an edge that holds the database, not a session."""
    with db.transaction(database) as session:
        return export_ics(session, now=now, unit=unit, party=party, base_url=base_url)


def _follow_up(f: FollowUpDeadline, base_url: str | None, *, done: bool = False) -> ics.Deadline:
    url = f"{base_url}/atagande/{quote(f.commitment)}/uppfoljning" if base_url and not done else None
    return ics.Deadline(
        uid=follow_up_uid(f.commitment, f.period),
        sequence=0,
        due=f.due,
        summary=ics.follow_up_summary(f.period, f.effort, f.party, f.agreement_title, done=done),
        description=(
            ics.follow_up_done_description(f.period, f.commitment, f.owner_email or None)
            if done
            else ics.follow_up_description(f.period, f.commitment, f.unit, f.due, f.owner_email or None, url)
        ),
        organizer=f.owner_email or None,
        url=url,
        cancelled=done,
        timezone=f.timezone,
    )


def _revision(r: RevisionDeadline, base_url: str | None, *, done: bool = False) -> ics.Deadline:
    url = f"{base_url}/revision" if base_url and not done else None
    return ics.Deadline(
        uid=revision_uid(r.agreement, r.number),
        sequence=0,
        due=r.due,
        summary=ics.revision_summary(r.number, r.title, done=done),
        description=ics.revision_description(r.number, r.due, r.owner_email or None, url, done=done),
        organizer=r.owner_email or None,
        url=url,
        cancelled=done,
        timezone=r.timezone,
    )


def export_ics(
    session: Session,
    *,
    now: datetime,
    unit: str | None = None,
    party: str | None = None,
    base_url: str | None = None,
) -> tuple[bytes, int]:
    """The coming deadlines (engine.deadlines) as an iCalendar file, and how many are still coming.

    Stamps every event's SEQUENCE through ``session``: the caller's transaction commits it.
    """
    deadlines = coming_deadlines(session, now=now, unit=unit, party=party)
    base = base_url.rstrip("/") if base_url else None
    coming = [_follow_up(f, base) for f in deadlines.follow_ups] + [_revision(r, base) for r in deadlines.revisions]
    uids = {d.uid for d in coming}
    done = [_follow_up(f, base, done=True) for f in deadlines.done_follow_ups]
    done += [_revision(r, base, done=True) for r in deadlines.done_revisions]
    events = coming + [d for d in done if d.uid not in uids]
    sequences = stamp_all(session, [(d.uid, d.due, d.cancelled) for d in events], now=now)
    stamped = [replace(d, sequence=sequences[d.uid]) for d in events]
    return ics.calendar(stamped, stamp=now, name=NAME, timezone=deadlines.timezone), len(coming)
