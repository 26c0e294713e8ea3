"""A deadline's calendar event: its SEQUENCE stored and raised on change; cancelled once the report is made.

``stamp`` gives a mail or an export the SEQUENCE to write: 0 the first time, the same as
long as the event says the same, one higher whenever its date or its cancellation
changes, on both dialects and with several writers at once. Recording a follow-up whose
event a reminder carried queues a held ``calendar_cancel`` for the unit's next mail,
which nothing withdraws.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, update

from engine import db, service
from engine.agreement import Agreement, load_agreement
from engine.api import commands
from engine.calendar_events import follow_up_uid, revision_uid, stamp
from engine.deadlines import coming_deadlines
from engine.models import CalendarEvent, Commitment, OutboxRow
from engine.plan import load_plan
from engine.tick import tick

STHLM = ZoneInfo("Europe/Stockholm")
LITEN = Path(__file__).resolve().parents[1] / "data" / "liten.yaml"
MAR_31 = date(2027, 3, 31)


def at(y: int, m: int, d: int, hh: int = 8, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=STHLM)


def stamped(engine: Engine, uid: str, due: date, *, cancelled: bool = False, now: datetime | None = None) -> int:
    with db.transaction(engine) as s:
        return stamp(s, uid, due, cancelled=cancelled, now=now or at(2027, 3, 1))


def stored(engine: Engine, uid: str) -> CalendarEvent:
    with db.transaction(engine) as s:
        return s.scalars(select(CalendarEvent).where(CalendarEvent.uid == uid)).one()


def test_a_uid_is_stable_per_deadline_and_differs_between_deadlines() -> None:
    assert follow_up_uid("liten.vandringar.polis", 2026) == follow_up_uid("liten.vandringar.polis", 2026)
    uids = {
        follow_up_uid("liten.vandringar.polis", 2026),
        follow_up_uid("liten.vandringar.polis", 2027),
        follow_up_uid("liten.vandringar.kommun", 2026),
        revision_uid("liten", 2),
    }
    assert len(uids) == 4 and all(u.endswith("@samverkan") for u in uids)


def test_the_sequence_is_0_at_first_kept_while_nothing_changes_and_raised_on_every_change(engine: Engine) -> None:
    uid = follow_up_uid("liten.vandringar.polis", 2026)
    assert stamped(engine, uid, MAR_31) == 0
    assert stamped(engine, uid, MAR_31, now=at(2027, 3, 24)) == 0  # the −7 reminder says the same
    assert stamped(engine, uid, date(2027, 4, 15)) == 1  # the date moved
    assert stamped(engine, uid, date(2027, 4, 15)) == 1
    assert stamped(engine, uid, date(2027, 4, 15), cancelled=True, now=at(2027, 4, 2)) == 2  # reported
    assert stamped(engine, uid, date(2027, 4, 15), cancelled=True) == 2
    row = stored(engine, uid)
    assert (row.due, row.sequence, row.cancelled, row.changed_at) == (date(2027, 4, 15), 2, True, at(2027, 4, 2))


def test_writers_at_the_same_time_raise_the_sequence_once(engine: Engine) -> None:
    uid = follow_up_uid("liten.vandringar.polis", 2026)
    moved = date(2027, 4, 15)
    got: list[int] = []
    errors: list[BaseException] = []

    def write(due: date) -> None:
        try:
            got.append(stamped(engine, uid, due))
        except BaseException as exc:  # reported below
            errors.append(exc)

    def together(due: date) -> None:
        threads = [threading.Thread(target=write, args=(due,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    together(MAR_31)  # four first stamps of a new UID: one row, all 0
    together(moved)  # four stamps of the same new date: raised once, all 1
    assert errors == []
    assert got == [0] * 4 + [1] * 4
    assert stored(engine, uid).sequence == 1


# -- the cancellation after a report -------------------------------------------------------------


@pytest.fixture
def running(engine: Engine) -> Engine:
    """The small agreement loaded on 2026-11-24 and started; its −30 reminders queued on 1 March 2027."""
    liten: Agreement = load_agreement(LITEN)
    with db.transaction(engine) as s:
        load_plan(s, liten, now=at(2026, 11, 24, 9))
    tick(engine, at(2026, 11, 24, 9))
    assert tick(engine, at(2027, 3, 1)).notices == 4
    return engine


def mark_sent(engine: Engine, commitment: str) -> None:
    """As the dispatcher marks a reminder it sent."""
    with db.transaction(engine) as s:
        s.execute(
            update(OutboxRow)
            .where(OutboxRow.commitment_id == commitment, OutboxRow.kind == "reminder")
            .values(state="sent", sent_at=at(2027, 3, 1))
        )


def report(engine: Engine, commitment: str, now: datetime) -> commands.FollowUpRecorded:
    return commands.record_follow_up(
        engine, commitment, period=2026, values={"antal": 3}, comment="Tre vandringar", by="Kommunpolisen", now=now
    )


def cancels(engine: Engine) -> list[OutboxRow]:
    with db.transaction(engine) as s:
        return list(s.scalars(select(OutboxRow).where(OutboxRow.kind == "calendar_cancel")))


def test_a_report_after_a_sent_reminder_queues_a_held_cancellation_the_command_names(running: Engine) -> None:
    cid = "liten.vandringar.polis"
    mark_sent(running, cid)
    recorded = report(running, cid, at(2027, 3, 10, 14))
    (row,) = cancels(running)
    assert (row.key, row.state, row.recipients, row.group_key) == (
        f"calendar_cancel:{cid}:2026",
        "held",
        ["kommunpolis@polisen.example"],
        "kommunpolis@polisen.example",
    )
    assert (row.commitment_id, row.period, row.send_at) == (cid, 2026, at(2027, 3, 10, 14))
    assert row.data == {
        "uid": follow_up_uid(cid, 2026),
        "due": "2027-03-31",
        "period": 2026,
        "commitment": cid,
        "party": "polis",
        "effort": "Trygghetsvandringar",
        "unit": "Kommunpolis, lokalpolisområde Liten",
        "agreement_title": "Samverkansöverenskommelse mellan Litenstad och Polismyndigheten, lokalpolisområde Liten",
        "reported_at": at(2027, 3, 10, 14).isoformat(),
    }
    assert [n.key for n in recorded.queued] == [row.key]
    # The reminder's event is stored as the calendar holds it, so the cancellation raises its SEQUENCE.
    event = stored(running, follow_up_uid(cid, 2026))
    assert (event.due, event.sequence, event.cancelled) == (MAR_31, 0, False)


def test_a_report_before_any_event_went_out_cancels_nothing(running: Engine) -> None:
    recorded = report(running, "liten.vandringar.polis", at(2027, 3, 1, 7))  # the reminder not yet sent
    assert cancels(running) == [] and recorded.queued == ()


def test_an_event_only_an_export_carried_is_cancelled_too(running: Engine) -> None:
    cid = "liten.vandringar.polis"
    stamped(running, follow_up_uid(cid, 2026), MAR_31)  # as the export stamps what it writes
    report(running, cid, at(2027, 3, 10, 14))
    assert [r.recipients for r in cancels(running)] == [["kommunpolis@polisen.example"]]


def test_nothing_withdraws_the_cancellation_while_it_waits_for_the_next_mail(running: Engine) -> None:
    cid = "liten.vandringar.polis"
    mark_sent(running, cid)
    report(running, cid, at(2027, 3, 10, 14))
    # The period's reminders are gone, the next period opens on 1 January (a move that withdraws what is stale).
    for when in (at(2027, 3, 24), at(2027, 4, 1), at(2027, 4, 22), at(2028, 1, 1, 0, 5)):
        tick(running, when)
    with db.transaction(running) as s:
        assert s.scalar(select(Commitment.period).where(Commitment.id == cid)) == 2027
    assert [r.state for r in cancels(running)] == ["held"]


def test_after_the_report_the_status_and_the_deadlines_name_the_next_period(running: Engine) -> None:
    cid = "liten.vandringar.polis"
    mark_sent(running, cid)
    report(running, cid, at(2027, 3, 10, 14))
    with db.transaction(running) as s:
        (row,) = [r for r in service.status(s) if r.id == cid]
        found = coming_deadlines(s, now=at(2027, 3, 10, 15), unit="kommunpolis")
    assert (row.state, row.period, row.next_due, row.due_period) == ("uppföljd", 2026, date(2028, 3, 31), 2027)
    assert [(f.commitment, f.period, f.due) for f in found.follow_ups] == [(cid, 2027, date(2028, 3, 31))]
    # The reported period's event is still ahead in the unit's calendar: the export cancels it.
    assert [(f.commitment, f.period, f.due) for f in found.done_follow_ups] == [(cid, 2026, MAR_31)]
    with db.transaction(running) as s:
        assert coming_deadlines(s, now=at(2027, 4, 1), unit="kommunpolis").done_follow_ups == ()
