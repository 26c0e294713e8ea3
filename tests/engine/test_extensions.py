"""Extensions (anstånd): every consumer of a follow-up's due date follows the granted date.

Borås loaded on 2026-11-24: the 2026 report is due 2027-03-31 (reminders 1, 24 and 31
March, overdue notices from 1 April, escalation after 14 days). One commitment gets until
Friday 2027-04-30; its −30, −7 and 0 reminders then fall on 31 March, 23 and 30 April.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import Engine, func, select

from engine import db, extensions, service
from engine.api import commands
from engine.calendar_events import follow_up_uid
from engine.deadlines import coming_deadlines
from engine.models import Commitment, DueExtension, OutboxRow
from engine.plan import load_plan
from engine.review import review
from engine.tick import tick
from notifications.calendar_export import export_ics
from rules.errors import InvalidValue

STHLM = ZoneInfo("Europe/Stockholm")
MBU = "boras.mbu.polis"
NEW = date(2027, 4, 30)


def at(y: int, m: int, d: int, hh: int = 8, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=STHLM)


@pytest.fixture
def running(engine: Engine, boras) -> Engine:  # type: ignore[no-untyped-def]
    with db.transaction(engine) as s:
        load_plan(s, boras, now=at(2026, 11, 24, 9))
    tick(engine, at(2026, 11, 24, 9))
    return engine


def grant(engine: Engine, due: date = NEW, now: datetime | None = None, **kw: object) -> extensions.Granted:
    args: dict[str, object] = {"period": 2026, "reason": "Ny kontaktperson", "by": "brab@example.se"}
    args.update(kw)
    return commands.grant_extension(engine, MBU, due=due, now=now or at(2027, 3, 2, 10), **args)  # type: ignore[arg-type]


def keys(engine: Engine, commitment: str = MBU, kind: str | None = None) -> list[str]:
    with db.transaction(engine) as s:
        stmt = select(OutboxRow.key).where(OutboxRow.commitment_id == commitment, OutboxRow.state != "withdrawn")
        if kind:
            stmt = stmt.where(OutboxRow.kind == kind)
        return sorted(s.scalars(stmt))


def test_the_reminders_go_out_relative_to_the_new_date(running: Engine) -> None:
    tick(running, at(2027, 3, 1))
    granted = grant(running)
    assert (granted.previous_due, granted.due, granted.regular_due) == (date(2027, 3, 31), NEW, date(2027, 3, 31))
    assert granted.withdrawn == 1  # the −30 reminder, queued and unsent, named the old date
    tick(running, at(2027, 3, 24))  # the old −7 day: every other commitment is reminded, not this one
    assert keys(running, kind="reminder") == []
    assert len(keys(running, "boras.mbu.kommun", "reminder")) == 2
    tick(running, at(2027, 3, 31))
    assert keys(running, kind="reminder") == ["reminder:boras.mbu.polis:2026:-30:ext2027-04-30"]
    tick(running, at(2027, 4, 23))
    with db.transaction(running) as s:
        row = s.scalars(
            select(OutboxRow).where(OutboxRow.key == "reminder:boras.mbu.polis:2026:-7:ext2027-04-30")
        ).one()
        assert (row.data["due"], row.data["days_left"], row.send_at) == ("2027-04-30", 7, at(2027, 4, 23))


def test_an_extension_given_late_tells_the_unit_the_new_date_at_once(running: Engine) -> None:
    tick(running, at(2027, 4, 20))
    grant(running, now=at(2027, 4, 20, 10))
    tick(running, at(2027, 4, 20, 10))
    with db.transaction(running) as s:
        row = s.scalars(select(OutboxRow).where(OutboxRow.key.like("reminder:%:ext2027-04-30"))).one()
        assert (row.key.split(":")[3], row.data["days_left"], row.send_at) == ("-30", 10, at(2027, 4, 20))


def test_no_overdue_notice_before_the_new_date_and_one_after_it(running: Engine) -> None:
    grant(running)
    tick(running, at(2027, 4, 1))
    assert keys(running, kind="overdue") == []
    assert keys(running, "boras.mbu.kommun", "overdue") == ["overdue:boras.mbu.kommun:2026:0"]
    tick(running, at(2027, 4, 30, 23, 59))
    assert keys(running, kind="overdue") == []
    tick(running, at(2027, 5, 3))  # Monday, the first working day after the new date
    assert keys(running, kind="overdue") == ["overdue:boras.mbu.polis:2026:0:ext2027-04-30"]
    tick(running, at(2027, 5, 17))
    assert "escalation:boras.mbu.polis:2026:ext2027-04-30" in keys(running, kind="escalation")


def test_a_grant_after_the_due_date_withdraws_what_was_queued_for_the_old_one(running: Engine) -> None:
    tick(running, at(2027, 4, 1))  # the overdue notice is queued, not yet sent
    granted = grant(running, now=at(2027, 4, 1, 7, 30))
    assert granted.withdrawn == 1
    with db.transaction(running) as s:
        withdrawn = s.scalars(select(OutboxRow).where(OutboxRow.key == "overdue:boras.mbu.polis:2026:0")).one()
        assert (withdrawn.state, withdrawn.last_error) == (
            "withdrawn",
            "sista dagen är flyttad till 30 april 2027 (anstånd)",
        )
        late = {f.commitment for f in review(s, at(2027, 4, 2)).follow_ups}
        assert MBU not in late and "boras.mbu.kommun" in late
        after = {f.commitment: f for f in review(s, at(2027, 5, 3)).follow_ups}
        assert (after[MBU].due, after[MBU].days_late) == ("2027-04-30", 3)


def test_the_status_and_the_calendar_move_the_event_with_the_same_uid_and_a_higher_sequence(running: Engine) -> None:
    def event(now: datetime) -> icalendar.Event:
        with db.transaction(running) as s:
            data, _ = export_ics(s, now=now)
        found = [e for e in icalendar.Calendar.from_ical(data).walk("VEVENT") if e["uid"] == follow_up_uid(MBU, 2026)]
        return found[0]

    before = event(at(2027, 3, 1, 10))
    assert (before.decoded("dtstart"), int(before["sequence"])) == (date(2027, 3, 31), 0)
    grant(running)
    after = event(at(2027, 3, 2, 11))
    assert (after.decoded("dtstart"), int(after["sequence"])) == (NEW, 1)
    with db.transaction(running) as s:
        assert {r.id: r.next_due for r in service.status(s)}[MBU] == NEW
        assert {f.commitment: f.due for f in coming_deadlines(s, now=at(2027, 4, 2)).follow_ups}[MBU] == NEW


def test_a_later_grant_replaces_the_earlier_and_both_are_kept(running: Engine) -> None:
    grant(running)
    second = grant(running, date(2027, 4, 16), reason="Kortare räcker")
    assert (second.previous_due, second.due) == (NEW, date(2027, 4, 16))
    with db.transaction(running) as s:
        assert [x.due for x in extensions.granted(s, MBU)] == [date(2027, 4, 16), NEW]
        assert s.get(Commitment, MBU).next_due == date(2027, 4, 16)  # type: ignore[union-attr]


def test_the_extension_survives_loading_the_plan_again(running: Engine, boras) -> None:  # type: ignore[no-untyped-def]
    grant(running)
    with db.transaction(running) as s:
        load_plan(s, boras, now=at(2027, 3, 3))
    with db.transaction(running) as s:
        assert s.get(Commitment, MBU).next_due == NEW  # type: ignore[union-attr]


def test_a_closed_day_moves_to_the_next_working_day(running: Engine) -> None:
    granted = grant(running, date(2027, 5, 1))  # Saturday, and första maj
    assert (granted.due, granted.moved_to_working_day) == (date(2027, 5, 3), True)


@pytest.mark.parametrize(
    ("kw", "field", "text"),
    [
        ({"due": date(2027, 3, 31)}, "due", "efter den ordinarie, 31 mars 2027"),
        ({"due": date(2028, 4, 3)}, "due", "före nästa periods sista dag, 31 mars 2028"),
        ({"due": date(2027, 4, 12), "now": at(2027, 4, 14)}, "due", "före i dag, 14 april 2027"),
        ({"reason": "  "}, "reason", "ange varför"),
        ({"period": 2025}, "period", "perioden 2025 är inte öppen"),
    ],
)
def test_a_refused_grant_says_why_beside_its_field_and_writes_nothing(
    running: Engine, kw: dict[str, object], field: str, text: str
) -> None:
    with pytest.raises(InvalidValue) as exc:
        grant(running, **kw)  # type: ignore[arg-type]
    assert exc.value.field == field and text in exc.value.message
    with db.transaction(running) as s:
        assert s.scalar(select(func.count()).select_from(DueExtension)) == 0
        assert s.get(Commitment, MBU).next_due == date(2027, 3, 31)  # type: ignore[union-attr]


def test_remind_now_queues_one_overdue_notice_per_late_follow_up_once_a_day(running: Engine) -> None:
    now = at(2027, 4, 6, 13)
    one = commands.remind_now(running, by="brab@example.se", now=now, commitment=MBU)
    assert [n.key for n in one.queued] == ["overdue:boras.mbu.polis:2026:manual:2027-04-06"]
    assert (one.queued[0].send_at, one.queued[0].kind, one.queued[0].data["days_late"]) == (now, "overdue", 6)
    again = commands.remind_now(running, by="brab@example.se", now=at(2027, 4, 6, 15), commitment=MBU)
    assert (again.queued, again.already) == ((), (MBU,))
    unit = commands.remind_now(running, by="brab@example.se", now=now, unit="kommunpolis")
    with db.transaction(running) as s:
        police = set(
            s.scalars(
                select(Commitment.id).where(Commitment.responsible == "kommunpolis", Commitment.state == "pågående")
            )
        )
    assert {n.commitment for n in unit.queued} == police - {MBU} and unit.already == (MBU,)
    assert unit.unit_name and all(n.recipients == one.queued[0].recipients for n in unit.queued)
    tomorrow = commands.remind_now(running, by="brab@example.se", now=at(2027, 4, 7, 9), commitment=MBU)
    assert len(tomorrow.queued) == 1


def test_remind_now_refuses_a_follow_up_that_is_not_late(running: Engine) -> None:
    grant(running)
    with pytest.raises(InvalidValue, match="inte försenad"):
        commands.remind_now(running, by="brab@example.se", now=at(2027, 4, 6, 13), commitment=MBU)
    assert keys(running, kind="overdue") == []


def test_a_revision_that_keeps_the_period_open_keeps_its_extension(running: Engine) -> None:
    grant(running)
    for trigger in ("revise", "reinstate"):
        commands.transition(running, MBU, trigger, by="brab", why="revidering", now=at(2027, 3, 3))
    with db.transaction(running) as s:
        c = s.get(Commitment, MBU)
        assert c is not None and (c.state, c.period, c.next_due) == ("pågående", 2026, NEW)
