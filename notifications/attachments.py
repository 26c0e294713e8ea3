"""The calendar file a mail carries: every event of its notices, one per deadline, the same UID everywhere.

The dispatcher calls two functions per batch:

1. ``prepare_calendar(session, rows, contexts, now)``, in a transaction it commits: for
   every row that carries an event — a reminder (commitment and period), a revision
   kickoff, a held ``calendar_cancel`` — it stamps the event's SEQUENCE
   (engine.calendar_events.stamp_all) and puts what the event says into
   ``contexts[row.id]["calendar"]`` (a dict of ``notifications.ics.Deadline``'s fields,
   ``due`` as ISO text); None for every other row.
2. ``calendar_attachment(items, now)`` for each mail: ONE ``text/calendar`` attachment
   with every event of the mail's rows (a grouped mail may hold 14 reminders and a
   couple of cancellations), or None when none carries one.

**PUBLISH with STATUS:CANCELLED, not METHOD:CANCEL.** A cancellation goes out as the same
UID with ``STATUS:CANCELLED``, a raised SEQUENCE and a summary beginning "Klart:", in the
same ``METHOD:PUBLISH`` calendar as the mail's other deadlines. Because:

* one iCalendar object has one METHOD, and Outlook requires the MIME part's ``method=``
  to match it: a mail with reminders and cancellations would need two attachments with
  two methods, and a grouped mail holds both;
* ``METHOD:CANCEL`` is iTIP scheduling (RFC 5546 3.2.5): organizer to attendees of an
  event that was sent as a REQUEST, and it must list the attendees. Ours are published,
  not scheduled (a PUBLISH has an ORGANIZER and no ATTENDEE, RFC 5546 3.2.1), and
  clients treat a CANCEL without a matching invitation poorly (iOS Mail would not open
  one whose calendar was not the scheduling account's);
* RFC 5546's PUBLISH allows ``STATUS:CANCELLED``, and an update of a published event is
  another PUBLISH with the same UID and a higher SEQUENCE: Apple Calendar applies it to
  the event it holds; Google Calendar and desktop Outlook are known to add a copy of a
  mailed PUBLISH instead (adamgibbons/ics#128, mangstadt/biweekly#87), and then the
  copy's "Klart:" summary and missing alarms still say that nothing more is due;
* the export carries the very same event, so a mail and an export never contradict each
  other, and there is one way to write an event (notifications.ics).

``deadline_attachment(row, ctx, now)`` is the single mail's attachment until compose calls
the two above; without ``prepare_calendar`` it has no stored SEQUENCE and writes 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.calendar_events import follow_up_uid, revision_uid, stamp_all
from engine.models import OutboxRow
from notifications import ics
from notifications import message as mime

ATTACH_ICS = ("reminder", "revision_kickoff", "calendar_cancel")
FILENAME = "kalender.ics"


def _follow_up(row: OutboxRow, ctx: dict[str, Any]) -> ics.Deadline | None:
    notice, c = ctx["notice"], ctx.get("commitment") or {}
    if row.commitment_id is None or row.period is None or not notice.get("due"):
        return None
    due = date.fromisoformat(str(notice["due"]))
    owner = ctx["owner"]["email"]
    url = ctx.get("followup_url")
    unit = (ctx.get("unit") or {}).get("name", "")
    return ics.Deadline(
        uid=follow_up_uid(row.commitment_id, row.period),
        sequence=0,
        due=due,
        summary=ics.follow_up_summary(
            row.period, c.get("effort_title", row.commitment_id), c.get("party", ""), ctx["agreement"]["title"]
        ),
        description=ics.follow_up_description(row.period, row.commitment_id, unit, due, owner, url),
        organizer=owner,
        url=url,
        timezone=ctx["agreement"]["timezone"],
    )


def _revision(row: OutboxRow, ctx: dict[str, Any]) -> ics.Deadline | None:
    notice = ctx["notice"]
    if not notice.get("due") or notice.get("revision") is None:
        return None
    number, due = int(notice["revision"]), date.fromisoformat(str(notice["due"]))
    owner = ctx["owner"]["email"]
    return ics.Deadline(
        uid=revision_uid(row.agreement_id, number),
        sequence=0,
        due=due,
        summary=ics.revision_summary(number, ctx["agreement"]["title"]),
        description=ics.revision_description(number, due, owner, None),
        organizer=owner,
        timezone=ctx["agreement"]["timezone"],
    )


def _cancel(row: OutboxRow, ctx: dict[str, Any]) -> ics.Deadline | None:
    """The event a held ``calendar_cancel`` row names in its data (engine.calendar_events.cancellation)."""
    data = row.data
    if "uid" not in data or "due" not in data:
        return None
    period = int(data.get("period", row.period or 0))
    owner = ctx["owner"]["email"]
    return ics.Deadline(
        uid=str(data["uid"]),
        sequence=0,
        due=date.fromisoformat(str(data["due"])),
        summary=ics.follow_up_summary(
            period,
            str(data.get("effort", row.commitment_id or "")),
            str(data.get("party", "")),
            str(data.get("agreement_title", ctx["agreement"]["title"])),
            done=True,
        ),
        description=ics.follow_up_done_description(period, str(data.get("commitment", row.commitment_id)), owner),
        organizer=owner,
        cancelled=True,
        timezone=ctx["agreement"]["timezone"],
    )


def describe(row: OutboxRow, ctx: dict[str, Any]) -> ics.Deadline | None:
    """The event ``row``'s mail carries (SEQUENCE still 0), or None for a notice that carries none."""
    if row.kind == "reminder":
        return _follow_up(row, ctx)
    if row.kind == "revision_kickoff":
        return _revision(row, ctx)
    if row.kind == "calendar_cancel":
        return _cancel(row, ctx)
    return None


def prepare_calendar(
    session: Session, rows: Sequence[OutboxRow], contexts: dict[int, dict[str, Any]], now: datetime
) -> None:
    """Stamp the SEQUENCE of every row's event and put the event in ``contexts[row.id]["calendar"]``.

    Writes through ``session`` (engine.calendar_events); the caller commits. A row that
    carries no event gets None.
    """
    found: list[tuple[int, ics.Deadline]] = []
    for r in rows:
        ctx = contexts.get(r.id)
        if ctx is None:
            continue
        d = describe(r, ctx)
        ctx["calendar"] = None
        if d is not None:
            found.append((r.id, d))
    sequences = stamp_all(session, [(d.uid, d.due, d.cancelled) for _, d in found], now=now)
    for rid, d in found:
        # vars(), not dataclasses.asdict: no deep copy for a flat record (asdict showed in bench/mail.py).
        contexts[rid]["calendar"] = {**vars(d), "due": d.due.isoformat(), "sequence": sequences[d.uid]}


def _deadline(value: dict[str, Any]) -> ics.Deadline:
    return ics.Deadline(**{**value, "due": date.fromisoformat(str(value["due"]))})


def _attachment(deadlines: Sequence[ics.Deadline], now: datetime) -> mime.Attachment:
    # One event per UID: the highest SEQUENCE is what the event says now.
    latest: dict[str, ics.Deadline] = {}
    for d in deadlines:
        if d.uid not in latest or d.sequence >= latest[d.uid].sequence:
            latest[d.uid] = d
    return mime.Attachment(
        filename=FILENAME,
        content=ics.calendar(latest.values(), stamp=now),
        maintype="text",
        subtype="calendar",
        params={"method": "PUBLISH", "charset": "utf-8"},
    )


def calendar_attachment(items: Sequence[tuple[OutboxRow, dict[str, Any]]], now: datetime) -> mime.Attachment | None:
    """One .ics holding the event of every item whose context ``prepare_calendar`` gave one; None if none did."""
    deadlines = [_deadline(ctx["calendar"]) for _, ctx in items if ctx.get("calendar")]
    return _attachment(deadlines, now) if deadlines else None


def deadline_attachment(row: OutboxRow, ctx: dict[str, Any], now: datetime) -> mime.Attachment | None:
    """The .ics of a single notice's mail; None for a notice that carries no event.

    Uses what ``prepare_calendar`` put in the context when it ran; otherwise describes
    the event from the context with SEQUENCE 0 (no session here to read the stored one).
    """
    if row.kind not in ATTACH_ICS:
        return None
    stored = ctx.get("calendar")
    d = _deadline(stored) if stored else describe(row, ctx)
    return None if d is None else _attachment([d], now)
