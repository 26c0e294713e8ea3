"""Stale notices are withdrawn, not sent (issue 11, point 6): in the transaction that removed their reason.

A queued notice whose reason is gone — the follow-up was recorded, the termination takes
effect by its send time, the revision it announces was completed, the commitment was
removed by a revision — becomes ``withdrawn`` with the reason in ``last_error``, and the
dispatcher never sends it. What the dispatcher does at claim time is in
tests/notifications/test_stale_notices.py.
"""

from __future__ import annotations

from datetime import date, datetime
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from engine import db, parties, service
from engine.agreement import Agreement, load_agreement, parse_agreement
from engine.clock import FixedClock
from engine.models import OutboxRow
from engine.plan import load_plan
from engine.revisions import complete, decide
from engine.tick import tick
from notifications.dispatcher import deliver
from notifications.settings import Settings
from rules import texts
from samverkan.cli import main

STHLM = ZoneInfo("Europe/Stockholm")
LITEN = Path(__file__).resolve().parents[1] / "data" / "liten.yaml"


def at(y: int, m: int, d: int, hh: int = 8, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=STHLM)


def without_effort(effort: str) -> Agreement:
    """The small agreement with one insats taken out of the plan."""
    text = LITEN.read_text(encoding="utf-8")
    start = text.index(f"\n      - id: {effort}\n")
    end = text.find("\n      - id: ", start + 1)
    return parse_agreement(text[:start] + (text[end:] if end >= 0 else "\n"), f"liten-utan-{effort}.yaml")


def rows(engine: Engine) -> dict[str, OutboxRow]:
    with db.transaction(engine) as s:
        return {r.key: r for r in s.scalars(select(OutboxRow))}


@pytest.fixture
def liten() -> Agreement:
    return load_agreement(LITEN)


@pytest.fixture
def running(engine: Engine, liten: Agreement) -> Engine:
    """The small agreement loaded on 2026-11-24 and started: four commitments wait for 2026 (due 2027-03-31)."""
    with db.transaction(engine) as s:
        load_plan(s, liten, now=at(2026, 11, 24, 9))
    assert tick(engine, at(2026, 11, 24, 9)).transitions == 4
    return engine


def decide_all(engine: Engine, now: datetime, remove: frozenset[str] = frozenset()) -> None:
    with db.transaction(engine) as s:
        for row in service.status(s):
            if row.state != "avslutad":
                decision = "remove" if row.id in remove else "keep"
                decide(s, row.id, decision, text="beslut i revisionen", by="BRÅ", now=now)


def test_a_reminder_queued_before_the_follow_up_is_withdrawn_by_the_recording_transaction(
    running: Engine, tmp_path: Path
) -> None:
    assert tick(running, at(2027, 3, 1)).notices == 4  # the -30 reminders, queued at their instant
    key = "reminder:liten.skolor.kommun:2026:-30"
    recorded_at = at(2027, 3, 1, 9)

    # A recording that fails after the follow-up is written leaves the reminder as it was.
    def record_then_fail() -> None:
        with db.transaction(running) as s:
            service.record_follow_up(
                s, "skolor.kommun", period=2026, values={"besok": 5}, comment="Gjort", by="Skolan", now=recorded_at
            )
            raise RuntimeError("the transaction is rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        record_then_fail()
    assert rows(running)[key].state == "pending"
    with db.transaction(running) as s:
        service.record_follow_up(
            s, "skolor.kommun", period=2026, values={"besok": 5}, comment="Gjort", by="Skolan", now=recorded_at
        )
        # Withdrawn in the very transaction that recorded the follow-up, before it commits.
        row = s.scalars(select(OutboxRow).where(OutboxRow.key == key)).one()
        assert (row.state, row.last_error) == ("withdrawn", "uppföljningen för 2026 är registrerad")
    others = {k: r.state for k, r in rows(running).items() if k != key}
    assert set(others.values()) == {"pending"} and len(others) == 3

    report = deliver(running, at(2027, 3, 1, 9, 30), Settings(mailer="file", mail_dir=tmp_path / "mail"))
    assert report.sent == 3
    mails = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in (tmp_path / "mail").glob("*.eml")]
    assert len(mails) == report.messages == 2  # two of the three go to one address, in one mail
    assert "skola@litenstad.example" not in {str(m["To"]) for m in mails}
    after = rows(running)[key]
    assert (after.state, after.sent_at, after.message_id) == ("withdrawn", None, None)


@pytest.mark.parametrize(
    ("queued_at", "effective", "kinds", "still_going"),
    [
        # Queued at their instant, 08:00 on 24 March; the termination, recorded at 14:00,
        # takes effect that day: nothing still queued would go before it, not even the
        # -30 reminders left undelivered since 1 March.
        (at(2027, 3, 24), date(2027, 3, 24), {"reminder"}, 0),
        # At 13:00 the morning slot is over: the -7 reminders go in the next slot, 25 March.
        (at(2027, 3, 24, 13), date(2027, 3, 25), {"reminder"}, 4),
        # At 13:00 on 21 April the second overdue notice, the escalations (21 days) and
        # the week's review go in the next slot, 22 April. (The -30 reminders left undelivered
        # since 1 March are past their due date by now: withdrawn for that, see below.)
        (at(2027, 4, 21, 13), date(2027, 4, 22), {"overdue", "escalation", "weekly_summary"}, 0),
    ],
    ids=["reminders-that-day", "reminders-next-slot", "overdue-and-escalations-next-slot"],
)
def test_notices_queued_for_the_day_a_termination_takes_effect_or_later_are_withdrawn_at_terminate(
    running: Engine, queued_at: datetime, effective: date, kinds: set[str], still_going: int
) -> None:
    tick(running, at(2027, 3, 1))  # the -30 reminders, not delivered
    tick(running, queued_at)
    terminated_at = queued_at.replace(hour=14)
    # What would go, if delivered from now on, on or after the day the termination takes effect.
    stale = {
        k: r for k, r in rows(running).items() if max(r.send_at, terminated_at).astimezone(STHLM).date() >= effective
    }
    assert {r.kind for r in stale.values()} == kinds
    assert all(r.state == "pending" for r in stale.values())
    with db.transaction(running) as s:
        parties.terminate(
            s, party="kommun", effective=effective, reason="Ny överenskommelse", by="KS", now=terminated_at
        )
        # In the transaction that records the termination.
        states = {r.key: (r.state, r.last_error) for r in s.scalars(select(OutboxRow))}
    why = f"överenskommelsen är uppsagd från {texts.datum(effective)}"
    assert {states[k] for k in stale} == {("withdrawn", why)}
    # What is due before the termination takes effect still goes, and so does the termination notice.
    past_due = {k for k, v in states.items() if k not in stale and (v[1] or "").startswith("sista dagen")}
    assert len(past_due) == (4 if queued_at.month == 4 else 0)
    earlier = {k: v for k, v in states.items() if k not in stale and k not in past_due}
    assert {v[0] for v in earlier.values()} == {"pending"}
    assert sum(k.startswith("termination_notice:") for k in earlier) == 1
    assert sum(k.startswith("reminder:") and k.endswith(":-30") for k in earlier) == still_going == len(earlier) - 1


def test_the_revisions_kickoff_and_late_notices_are_withdrawn_when_revision_complete_adopts_the_plan(
    running: Engine, liten: Agreement
) -> None:
    # Revision 3: nominal 2028-04-15 (Saturday), Easter Monday 17 April, deadline 18 April.
    tick(running, at(2028, 2, 18))  # the kick-off, 60 days before
    tick(running, at(2028, 4, 19))  # the first late notice, the day after the deadline
    queued = rows(running)
    assert queued["revision_kickoff:liten:3"].state == "pending"
    assert queued["revision_overdue:liten:3:0"].state == "pending"
    decide_all(running, at(2028, 4, 19, 9))
    with db.transaction(running) as s:
        done = complete(s, liten, by="BRÅ", now=at(2028, 4, 19, 10))
        found = {
            r.key: (r.state, r.last_error)
            for r in s.scalars(select(OutboxRow).where(OutboxRow.kind.in_(["revision_kickoff", "revision_overdue"])))
        }
    assert done.revision == 3
    assert found == {
        "revision_kickoff:liten:3": ("withdrawn", "revidering 3 är genomförd"),
        "revision_overdue:liten:3:0": ("withdrawn", "revidering 3 är genomförd"),
    }


def test_a_commitment_removed_by_a_revision_has_its_queued_notices_withdrawn(
    engine: Engine, liten: Agreement, capsys: pytest.CaptureFixture[str]
) -> None:
    # Loaded mid-2027: three commitments wait for 2027 (due 2028-03-31); trafik (2020–2026) is over.
    with db.transaction(engine) as s:
        load_plan(s, liten, now=at(2027, 6, 1, 9))
    tick(engine, at(2027, 6, 1, 9))
    # At 13:00 on 24 March 2028 the -7 reminders and the revision's kick-off go in the next slot (27 March).
    tick(engine, at(2028, 3, 24, 13))
    queued = rows(engine)
    reminders = {k for k in queued if k.startswith("reminder:") and k.endswith(":2027:-7")}
    assert len(reminders) == 3 and {queued[k].state for k in reminders} == {"pending"}
    decide_all(engine, at(2028, 3, 24, 14), remove=frozenset({"liten.skolor.kommun"}))
    with db.transaction(engine) as s:
        done = complete(s, without_effort("skolor"), by="BRÅ", now=at(2028, 3, 24, 15))
    assert done.ended == ["liten.skolor.kommun"]
    after = rows(engine)
    gone = after["reminder:liten.skolor.kommun:2027:-7"]
    assert (gone.state, gone.last_error) == ("withdrawn", "åtagandet är avslutat")
    # The kept commitments still wait for 2027: their reminders still go.
    assert {after[k].state for k in reminders - {"reminder:liten.skolor.kommun:2027:-7"}} == {"pending"}

    # The process owner sees what was withdrawn, and why, in Swedish.
    url = engine.url.render_as_string(hide_password=False)
    assert main(["outbox", "--state", "withdrawn", "--db", url], clock=FixedClock(at(2028, 3, 24, 16))) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all("återkallad" in line for line in lines)
    (removed,) = [line for line in lines if "liten.skolor.kommun" in line]
    assert removed.endswith("– åtagandet är avslutat")
    (kickoff,) = [line for line in lines if "liten.skolor.kommun" not in line]
    assert "liten → " in kickoff and kickoff.endswith("– revidering 3 är genomförd")


def test_an_effort_removed_from_the_file_by_init_has_its_queued_notices_withdrawn(running: Engine) -> None:
    tick(running, at(2027, 3, 1))  # the -30 reminders, not delivered
    with db.transaction(running) as s:
        result = load_plan(s, without_effort("skolor"), now=at(2027, 3, 2, 9))
    assert "åtagande liten.skolor.kommun finns inte längre i filen: avslutat" in result.changes
    after = rows(running)
    gone = after["reminder:liten.skolor.kommun:2026:-30"]
    assert (gone.state, gone.last_error) == ("withdrawn", "åtagandet är avslutat")
    assert {r.state for k, r in after.items() if "skolor" not in k} == {"pending"}


def test_a_deviation_is_withdrawn_when_the_follow_up_is_corrected_to_meet_the_target(running: Engine) -> None:
    def record(value: int, *, replace: bool) -> None:
        with db.transaction(running) as s:
            service.record_follow_up(
                s,
                "vandringar.kommun",
                period=2026,
                values={"antal": value},
                comment="Rättad" if replace else "En vandring",
                by="Fritid",
                now=at(2027, 3, 10, 14 + replace),
                replace=replace,
            )

    record(1, replace=False)  # 1 of the target 2: a deviation for the process owner, in the next slot
    key = "deviation:liten.vandringar.kommun:2026:antal"
    assert rows(running)[key].state == "pending"
    record(2, replace=True)  # two walks after all
    gone = rows(running)[key]
    assert (gone.state, gone.last_error) == ("withdrawn", "uppföljningen är rättad och ligger inte längre under målet")


def test_the_late_notices_of_a_revision_never_completed_are_withdrawn_when_the_next_one_replaces_it(
    engine: Engine, liten: Agreement
) -> None:
    # Revision 1 (deadline 2022-04-19) is never completed; revision 2 (2025-04-15) kicks off on 14 February 2025.
    with db.transaction(engine) as s:
        load_plan(s, liten, now=at(2021, 11, 1, 9))
    tick(engine, at(2021, 11, 1, 9))
    tick(engine, at(2025, 2, 13, 13))  # the latest late notice for revision 1, caught up into the next slot
    (late,) = [r for k, r in rows(engine).items() if k.startswith("revision_overdue:liten:1:")]
    assert late.state == "pending" and late.send_at == at(2025, 2, 14)
    tick(engine, at(2025, 2, 14))
    after = rows(engine)
    replaced = ("withdrawn", "revidering 1 har ersatts av revidering 2")
    assert (after[late.key].state, after[late.key].last_error) == replaced
    assert after["revision_kickoff:liten:2"].state == "pending"
