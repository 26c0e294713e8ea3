"""A mail's calendar file: every event of its notices in one .ics, updated in place, cancelled after the report.

What the dispatcher does for each batch, on real rows from the real tick: the template
contexts (notifications.context), ``prepare_calendar`` in the batch's transaction, then
``calendar_attachment`` per mail. The mails themselves are in test_delivery.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import Engine, select, update

from engine import db
from engine.agreement import Agreement, parse_agreement
from engine.api import commands
from engine.calendar_events import follow_up_uid, revision_uid
from engine.models import OutboxRow
from engine.plan import load_plan
from engine.tick import tick
from notifications.attachments import calendar_attachment, deadline_attachment, prepare_calendar
from notifications.calendar_export import export_ics
from notifications.context import contexts
from notifications.dispatcher import deliver
from notifications.message import Attachment
from notifications.settings import Settings
from tests.conftest import BORAS
from tests.notifications.rfc5545 import problems

STHLM = ZoneInfo("Europe/Stockholm")
POLIS = "kommunpolis@polisen.example"
TITLE = "Samverkansöverenskommelse mellan Borås Stad och Polismyndigheten, lokalpolisområde Borås"
MBU = "boras.mbu.polis"


def at(y: int, m: int, d: int, hh: int = 8, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=STHLM)


def link(row: OutboxRow) -> str:
    return f"https://samverkan.boras.example/uppfoljning/{row.commitment_id}-{row.period}"


@pytest.fixture
def reminders_due(engine: Engine, boras: Agreement) -> Engine:
    """Borås loaded in 2026; on 2027-03-01 the first reminder of 28 commitments is due, 14 of them to the police."""
    with db.transaction(engine) as s:
        load_plan(s, boras, now=at(2026, 11, 24, 9))
    tick(engine, at(2026, 11, 24, 9))
    assert tick(engine, at(2027, 3, 1)).notices == 28
    return engine


def due_for(engine: Engine, to: str, now: datetime) -> list[OutboxRow]:
    """What the dispatcher's claim takes for one address at ``now``: its due notices and what rides along."""
    with db.transaction(engine) as s:
        rows = s.scalars(
            select(OutboxRow)
            .where(OutboxRow.group_key == to, OutboxRow.state.in_(["pending", "held"]), OutboxRow.send_at <= now)
            .order_by(OutboxRow.id)
        )
        return list(rows)


def attach(engine: Engine, rows: Sequence[OutboxRow], now: datetime) -> tuple[Attachment | None, dict[int, Any]]:
    """One mail of these rows, as the dispatcher builds it; the rows marked sent, as its mark does."""
    with db.transaction(engine) as s:
        ctx = contexts(s, rows, link=link, now=now)
        prepare_calendar(s, rows, ctx, now)
        made = calendar_attachment([(r, ctx[r.id]) for r in rows], now)
        s.execute(update(OutboxRow).where(OutboxRow.id.in_([r.id for r in rows])).values(state="sent", sent_at=now))
    return made, ctx


def events(made: Attachment | None) -> dict[str, Any]:
    assert made is not None
    return {str(e["uid"]): e for e in Calendar.from_ical(made.content).walk("VEVENT")}


def test_one_mail_of_fourteen_reminders_carries_fourteen_events_in_one_valid_file(reminders_due: Engine) -> None:
    rows = due_for(reminders_due, POLIS, at(2027, 3, 1))
    assert len(rows) == 14
    made, ctx = attach(reminders_due, rows, at(2027, 3, 1))
    assert made is not None
    assert (made.maintype, made.subtype, made.params["method"], made.filename) == (
        "text",
        "calendar",
        "PUBLISH",
        "kalender.ics",
    )
    assert problems(made.content) == []
    found = events(made)
    assert set(found) == {follow_up_uid(r.commitment_id or "", 2026) for r in rows}
    for r in rows:
        e = found[follow_up_uid(r.commitment_id or "", 2026)]
        effort = ctx[r.id]["commitment"]["effort_title"]
        assert str(e["summary"]) == f"Uppföljning 2026: {effort} (polis) – {TITLE} (sista dag)"
        assert (e.decoded("dtstart"), int(e["sequence"]), str(e["status"])) == (date(2027, 3, 31), 0, "CONFIRMED")
        assert str(e["url"]) == link(r) and link(r) in str(e["description"])
        assert str(e["organizer"]) == "mailto:brab@boras.example"
        assert sorted(a.decoded("trigger") for a in e.walk("VALARM")) == [timedelta(days=-7), timedelta(days=-1)]
        assert ctx[r.id]["calendar"]["uid"] == str(e["uid"])


def test_the_minus_30_and_minus_7_mails_carry_the_same_event_with_the_same_sequence(reminders_due: Engine) -> None:
    first, _ = attach(reminders_due, due_for(reminders_due, POLIS, at(2027, 3, 1)), at(2027, 3, 1))
    assert tick(reminders_due, at(2027, 3, 24)).notices == 28
    week, _ = attach(reminders_due, due_for(reminders_due, POLIS, at(2027, 3, 24)), at(2027, 3, 24))
    before, after = events(first), events(week)
    assert set(before) == set(after) and len(after) == 14
    assert {u: int(e["sequence"]) for u, e in before.items()} == {u: int(e["sequence"]) for u, e in after.items()}
    # A week before, the week-before alarm has rung: only the day-before one is left.
    assert all([a.decoded("trigger") for a in e.walk("VALARM")] == [timedelta(days=-1)] for e in after.values())


def test_a_due_date_moved_by_a_new_plan_raises_the_sequence_and_the_export_agrees(reminders_due: Engine) -> None:
    attach(reminders_due, due_for(reminders_due, POLIS, at(2027, 3, 1)), at(2027, 3, 1))
    moved = BORAS.read_text(encoding="utf-8").replace('due: "03-31"', 'due: "04-15"', 1)
    with db.transaction(reminders_due) as s:
        load_plan(s, parse_agreement(moved, BORAS.name), now=at(2027, 3, 5, 9))
    tick(reminders_due, at(2027, 3, 5, 9))
    assert tick(reminders_due, at(2027, 4, 8)).notices > 0  # a week before 15 April
    rows = [r for r in due_for(reminders_due, POLIS, at(2027, 4, 8)) if r.data.get("offset_days") == -7]
    assert len(rows) == 14 and {r.data["due"] for r in rows} == {"2027-04-15"}
    found = events(attach(reminders_due, rows, at(2027, 4, 8))[0])
    assert {(e.decoded("dtstart"), int(e["sequence"])) for e in found.values()} == {(date(2027, 4, 15), 1)}
    with db.transaction(reminders_due) as s:
        exported, _ = export_ics(s, now=at(2027, 4, 8, 9), unit="kommunpolis")
    again = {str(e["uid"]): e for e in Calendar.from_ical(exported).walk("VEVENT")}
    for uid in found:
        assert (again[uid].decoded("dtstart"), int(again[uid]["sequence"])) == (date(2027, 4, 15), 1)


def test_the_next_mail_after_a_report_carries_the_event_cancelled_beside_the_others(reminders_due: Engine) -> None:
    attach(reminders_due, due_for(reminders_due, POLIS, at(2027, 3, 1)), at(2027, 3, 1))
    recorded = commands.record_follow_up(
        reminders_due,
        MBU,
        period=2026,
        values={"utbildningar": 2},
        comment="Två",
        by="Kommunpolisen",
        now=at(2027, 3, 10),
    )
    assert [n.kind for n in recorded.queued] == ["calendar_cancel"]
    assert tick(reminders_due, at(2027, 3, 24)).notices == 27  # every −7 reminder but MBU polis's
    rows = due_for(reminders_due, POLIS, at(2027, 3, 24))
    assert sorted(r.kind for r in rows) == ["calendar_cancel"] + ["reminder"] * 13
    made, _ = attach(reminders_due, rows, at(2027, 3, 24))
    assert made is not None and problems(made.content) == []
    found = events(made)
    assert len(found) == 14
    gone = found[follow_up_uid(MBU, 2026)]
    assert (str(gone["status"]), int(gone["sequence"]), gone.decoded("dtstart")) == ("CANCELLED", 1, date(2027, 3, 31))
    assert str(gone["summary"]) == f"Klart: Uppföljning 2026: MBU – Människan bakom uniformen (polis) – {TITLE}"
    assert list(gone.walk("VALARM")) == [] and "url" not in gone
    assert {str(e["status"]) for u, e in found.items() if u != follow_up_uid(MBU, 2026)} == {"CONFIRMED"}
    # Sent again (a retry), the cancellation says the same: the SEQUENCE is not raised twice.
    cancel = [r for r in rows if r.kind == "calendar_cancel"]
    again, _ = attach(reminders_due, cancel, at(2027, 3, 24, 9))
    assert int(events(again)[follow_up_uid(MBU, 2026)]["sequence"]) == 1


def test_a_revision_kickoff_carries_the_revisions_event(reminders_due: Engine) -> None:
    opened = commands.open_revision(reminders_due, by="BråB", now=at(2027, 10, 15, 10))
    with db.transaction(reminders_due) as s:
        rows = list(s.scalars(select(OutboxRow).where(OutboxRow.kind == "revision_kickoff")))
    made, _ = attach(reminders_due, rows, at(2027, 10, 15, 10))
    assert made is not None and problems(made.content) == []
    (e,) = events(made).values()
    assert str(e["uid"]) == revision_uid("boras", opened.number)
    assert e.decoded("dtstart") == opened.due == date(2027, 12, 14)
    assert str(e["summary"]) == f"Revidering {opened.number} av åtagandeplanen – {TITLE} (sista dag)"


def test_a_mail_whose_notices_carry_no_event_has_no_calendar(reminders_due: Engine) -> None:
    assert tick(reminders_due, at(2027, 4, 1)).notices > 0  # the first overdue notices
    rows = [r for r in due_for(reminders_due, POLIS, at(2027, 4, 1)) if r.kind == "overdue"]
    assert rows
    made, ctx = attach(reminders_due, rows, at(2027, 4, 1))
    assert made is None and all(ctx[r.id]["calendar"] is None for r in rows)


def test_a_single_mails_attachment_is_the_same_event_before_and_after_prepare(reminders_due: Engine) -> None:
    """``deadline_attachment`` serves compose until it calls prepare_calendar: same UID and words, SEQUENCE 0."""
    (row,) = [r for r in due_for(reminders_due, POLIS, at(2027, 3, 1)) if r.commitment_id == MBU]
    with db.transaction(reminders_due) as s:
        ctx = contexts(s, [row], link=link, now=at(2027, 3, 1))
        plain = deadline_attachment(row, ctx[row.id], at(2027, 3, 1))
        prepare_calendar(s, [row], ctx, at(2027, 3, 1))
        stamped = deadline_attachment(row, ctx[row.id], at(2027, 3, 1))
    assert plain is not None and stamped is not None
    assert problems(plain.content) == [] and plain.content == stamped.content


def test_the_minus_30_and_minus_7_mails_through_the_dispatcher_carry_one_event(
    reminders_due: Engine, tmp_path: Path
) -> None:
    """The real tick and deliver with the file mailer, one mail per notice (a grouped mail: see above)."""
    files = Settings(mailer="file", mail_dir=tmp_path / "outbox", digest=False)
    deliver(reminders_due, at(2027, 3, 1), files)
    assert tick(reminders_due, at(2027, 3, 24)).notices == 28
    deliver(reminders_due, at(2027, 3, 24), files)
    seen: dict[str, list[tuple[int, date]]] = {}
    for path in sorted((tmp_path / "outbox").glob("*.eml")):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(mail, EmailMessage)
        (part,) = [p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"]
        raw = part.get_payload(decode=True)
        assert isinstance(raw, bytes) and problems(raw) == []
        assert (part.get_param("method"), part.get_filename()) == ("PUBLISH", "kalender.ics")
        (e,) = Calendar.from_ical(raw).walk("VEVENT")
        seen.setdefault(str(e["uid"]), []).append((int(e["sequence"]), e.decoded("dtstart")))
    assert len(seen) == 28  # one event per commitment's 2026 report, each in both its mails
    assert all(v == [(0, date(2027, 3, 31))] * 2 for v in seen.values())
