"""A delivery that lags behind sends nothing stale (issue 11, point 6): checked again at claim time.

Rows whose reason went away without any engine transaction noticing — queued by an
older version, say — are written into the outbox directly; the dispatcher marks them
``withdrawn`` with the reason when it claims them, and the mailer never sees them.
Change and termination notices are facts that stay true: they are never withdrawn.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from engine import db, parties, service
from engine.agreement import Agreement, load_agreement
from engine.clock import FixedClock
from engine.models import OutboxRow
from engine.plan import load_plan
from engine.tick import tick
from notifications.dispatcher import deliver
from notifications.settings import Settings
from samverkan.cli import main

STHLM = ZoneInfo("Europe/Stockholm")
LITEN = Path(__file__).resolve().parents[1] / "data" / "liten.yaml"


def at(y: int, m: int, d: int, hh: int = 8, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=STHLM)


@pytest.fixture
def running(engine: Engine) -> Engine:
    """The small agreement loaded on 2026-11-24 and started: four commitments wait for 2026 (due 2027-03-31)."""
    with db.transaction(engine) as s:
        load_plan(s, load_agreement(LITEN), now=at(2026, 11, 24, 9))
    tick(engine, at(2026, 11, 24, 9))
    return engine


def mails(folder: Path) -> list[EmailMessage]:
    out = []
    for f in sorted(folder.glob("*.eml")):
        msg = message_from_bytes(f.read_bytes(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def by_key(engine: Engine) -> dict[str, OutboxRow]:
    with db.transaction(engine) as s:
        return {r.key: r for r in s.scalars(select(OutboxRow))}


def queued_by_an_older_version(engine: Engine, **row: object) -> None:
    """An outbox row written straight into the table, as data queued before the reason went away."""
    with db.transaction(engine) as s:
        s.add(OutboxRow(agreement_id="liten", created_at=row["send_at"], state="pending", attempts=0, **row))


def test_a_delivery_weeks_late_sends_nothing_whose_reason_went_away(
    running: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Ticks for six weeks while nothing is delivered: reminders, overdue notices, weekly reviews pile up.
    for day in (at(2027, 3, 1), at(2027, 3, 24), at(2027, 3, 31), at(2027, 4, 1), at(2027, 4, 15)):
        tick(running, day)
    # Then the kommun's units report 2026.
    with db.transaction(running) as s:
        for key, values in (
            ("vandringar.kommun", {"antal": 4}),
            ("trafik.kommun", {"insatser": 2}),
            ("skolor.kommun", {"besok": 9}),
        ):
            service.record_follow_up(
                s, key, period=2026, values=values, comment="Klart", by="Enheten", now=at(2027, 4, 16)
            )
    # Data the engine never looked at again: a withdrawn reminder put back to pending, a
    # reminder at an offset an earlier file had, and the kick-off of a revision long replaced.
    with db.transaction(running) as s:
        back = s.scalars(select(OutboxRow).where(OutboxRow.key == "reminder:liten.skolor.kommun:2026:-30")).one()
        back.state, back.last_error = "pending", None
    queued_by_an_older_version(
        running,
        key="reminder:liten.vandringar.kommun:2026:-14",
        kind="reminder",
        commitment_id="liten.vandringar.kommun",
        period=2026,
        recipients=["fritid@litenstad.example"],
        send_at=at(2027, 3, 17),
        data={"period": 2026, "due": "2027-03-31", "offset_days": -14, "days_left": 14},
    )
    queued_by_an_older_version(
        running,
        key="revision_kickoff:liten:2",
        kind="revision_kickoff",
        commitment_id=None,
        period=None,
        recipients=["bra@litenstad.example", "kommunpolis@polisen.example"],
        send_at=at(2025, 2, 14),
        data={"revision": 2, "due": "2025-04-15"},
    )

    report = deliver(running, at(2027, 4, 26, 10), Settings(mailer="file", mail_dir=tmp_path / "mail"))

    sent = mails(tmp_path / "mail")
    # The polis has not reported: its notices still go, and the owner's reviews; nothing to the units that reported.
    assert {str(m["To"]) for m in sent} == {"kommunpolis@polisen.example", "bra@litenstad.example"}
    assert "revision_kickoff" not in {m["X-Samverkan-Kind"] for m in sent}
    assert report.messages == len(sent)  # mails; report.sent counts notices, several to one grouped mail
    rows = by_key(running)
    # The three rows above, and the polis's reminders, held up past the due date: its overdue notices replace them.
    late = {k for k, r in rows.items() if (r.last_error or "").startswith("sista dagen 31 mars 2027 har passerat")}
    assert {rows[k].recipients[0] for k in late} == {"kommunpolis@polisen.example"}
    assert report.withdrawn == 3 + len(late) and all(k.startswith("reminder:") for k in late)
    for key, why in (
        ("reminder:liten.skolor.kommun:2026:-30", "uppföljningen för 2026 är registrerad"),
        ("reminder:liten.vandringar.kommun:2026:-14", "uppföljningen för 2026 är registrerad"),
        ("revision_kickoff:liten:2", "revidering 2 har ersatts av revidering 3"),
    ):
        assert (rows[key].state, rows[key].last_error, rows[key].sent_at) == ("withdrawn", why, None)
    reported = [r for r in rows.values() if r.recipients == ["fritid@litenstad.example"]]
    reported += [r for r in rows.values() if r.recipients == ["skola@litenstad.example"]]
    assert len(reported) > 3 and {r.state for r in reported} == {"withdrawn"}

    # `samverkan outbox --state withdrawn` lists each with its reason, in Swedish.
    url = running.url.render_as_string(hide_password=False)
    capsys.readouterr()
    assert main(["outbox", "--state", "withdrawn", "--db", url], clock=FixedClock(at(2027, 4, 26, 11))) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(reported) + 1 + len(late) and all("återkallad" in line for line in lines)
    assert sum(line.endswith("– uppföljningen för 2026 är registrerad") for line in lines) == len(reported)
    assert sum(line.endswith("– revidering 2 har ersatts av revidering 3") for line in lines) == 1


def test_change_and_termination_notices_are_never_withdrawn_while_what_they_ended_is(
    running: Engine, tmp_path: Path
) -> None:
    tick(running, at(2027, 4, 1))  # the first overdue notices and the week's review, not delivered
    with db.transaction(running) as s:
        parties.notify_change(s, party="polis", text="Färre kommunpoliser", by="LPO-chef", now=at(2027, 4, 1, 9))
        parties.terminate(
            s, party="kommun", effective=date(2027, 4, 5), reason="Ny överenskommelse", by="KS", now=at(2027, 4, 1, 10)
        )
    tick(running, at(2027, 4, 5, 0))  # the termination takes effect: every commitment ends
    with db.transaction(running) as s:
        assert {r.state for r in service.status(s)} == {"avslutad"}
    # An overdue notice an older version queued for after the termination took effect.
    queued_by_an_older_version(
        running,
        key="overdue:liten.vandringar.polis:2026:1",
        kind="overdue",
        commitment_id="liten.vandringar.polis",
        period=2026,
        recipients=["kommunpolis@polisen.example"],
        send_at=at(2027, 4, 6),
        data={"period": 2026, "due": "2027-03-31", "repeat": 1, "days_late": 6},
    )

    report = deliver(running, at(2027, 4, 12), Settings(mailer="file", mail_dir=tmp_path / "mail"))

    sent = mails(tmp_path / "mail")
    assert Counter(str(m["X-Samverkan-Kind"]) for m in sent) == {"change_notice": 1, "termination_notice": 1}
    # At claim: the week's review, held up past the termination, and the notice the older version queued.
    assert report.withdrawn == 2
    rows = by_key(running)
    assert rows["weekly_summary:liten:2027-W13"].last_error == "överenskommelsen är uppsagd från 5 april 2027"
    assert rows["overdue:liten.vandringar.polis:2026:1"].last_error == "överenskommelsen är uppsagd från 5 april 2027"
    assert Counter(r.state for r in rows.values()) == {"sent": 2, "withdrawn": len(rows) - 2}
    assert {r.kind for r in rows.values() if r.state == "sent"} == {"change_notice", "termination_notice"}


def test_a_notice_held_up_past_the_day_a_termination_takes_effect_is_not_sent_then(
    running: Engine, tmp_path: Path
) -> None:
    """Queued for 24 March, the termination takes effect on the 26th, and nothing ticks or delivers until the 29th."""
    tick(running, at(2027, 3, 24))  # the -7 reminders, for 08:00 today
    with db.transaction(running) as s:
        parties.terminate(
            s, party="polis", effective=date(2027, 3, 26), reason="Ny överenskommelse", by="LPO", now=at(2027, 3, 24, 9)
        )
    assert {r.state for r in by_key(running).values()} == {"pending"}  # due before the 26th: they still go…

    report = deliver(running, at(2027, 3, 29, 10), Settings(mailer="file", mail_dir=tmp_path / "mail"))

    # …but not on the 29th, after the termination took effect.
    assert [str(m["X-Samverkan-Kind"]) for m in mails(tmp_path / "mail")] == ["termination_notice"]
    assert report.withdrawn == 4
    reminders = [r for r in by_key(running).values() if r.kind == "reminder"]
    assert len(reminders) == 4
    assert {(r.state, r.last_error) for r in reminders} == {
        ("withdrawn", "överenskommelsen är uppsagd från 26 mars 2027")
    }


def test_a_reminder_held_up_past_its_due_date_is_withdrawn_for_the_overdue_notice(
    engine: Engine, boras: Agreement, tmp_path: Path
) -> None:
    """docs/design.md: a reminder whose due date has passed is replaced by the overdue notice, not sent late."""
    with db.transaction(engine) as s:
        load_plan(s, boras, now=datetime(2026, 11, 24, 9, tzinfo=STHLM))
    tick(engine, datetime(2027, 3, 1, 8, tzinfo=STHLM))  # the -30 reminders, then the mail server is down
    report = deliver(engine, datetime(2027, 4, 6, 8, tzinfo=STHLM), Settings(mail_dir=tmp_path / "ut"))
    assert report.sent == 0 and report.withdrawn == 28
    with db.transaction(engine) as s:
        reasons = set(s.scalars(select(OutboxRow.last_error).where(OutboxRow.state == "withdrawn")))
    assert reasons == {"sista dagen 31 mars 2027 har passerat; påminnelsen om försenad rapport ersätter den"}
