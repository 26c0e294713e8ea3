"""A late weekly summary counts what is late when it is sent (issue 11, point 11).

The small agreement's 2026 reports were due Wednesday 2027-03-31. The week's review is
queued on Monday 12 April and delivered on Thursday 15 April: it lists what is late on
the 15th, each "dagar sen" counted to that day. A review whose late follow-ups were all
reported before it went out is withdrawn, not sent as "0 försenade uppföljningar".
"""

from __future__ import annotations

from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from engine import db, service
from engine.agreement import load_agreement
from engine.models import OutboxRow
from engine.plan import load_plan
from engine.tick import tick
from notifications.dispatcher import deliver
from notifications.settings import Settings

STHLM = ZoneInfo("Europe/Stockholm")
LITEN = Path(__file__).resolve().parents[1] / "data" / "liten.yaml"
WEEK = "weekly_summary:liten:2027-W15"
REPORTS = {
    "vandringar.kommun": {"antal": 4},
    "vandringar.polis": {"antal": 3},
    "skolor.kommun": {"besok": 9},
    "trafik.kommun": {"insatser": 2},
}


def at(y: int, m: int, d: int, hh: int = 8, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=STHLM)


@pytest.fixture
def review_queued(engine: Engine) -> Engine:
    """Nothing reported for 2026; on Monday 12 April the week's review is queued, at 08:00."""
    with db.transaction(engine) as s:
        load_plan(s, load_agreement(LITEN), now=at(2026, 11, 24, 9))
    tick(engine, at(2026, 11, 24, 9))
    for day in (at(2027, 3, 1), at(2027, 3, 24), at(2027, 3, 31), at(2027, 4, 1)):
        tick(engine, day)
    with db.transaction(engine) as s:  # delivered as they fell due
        for r in s.scalars(select(OutboxRow)):
            r.state = "sent"
    tick(engine, at(2027, 4, 12))
    with db.transaction(engine) as s:
        week = s.scalars(select(OutboxRow).where(OutboxRow.key == WEEK)).one()
        assert (week.state, week.send_at) == ("pending", at(2027, 4, 12))
    return engine


def report(engine: Engine, keys: list[str]) -> None:
    with db.transaction(engine) as s:
        for key in keys:
            service.record_follow_up(
                s, key, period=2026, values=REPORTS[key], comment="Lämnad sent", by="Enheten", now=at(2027, 4, 13, 10)
            )


def weekly_mails(folder: Path) -> list[EmailMessage]:
    out = []
    for f in sorted(folder.glob("weekly_summary-*.eml")):
        msg = message_from_bytes(f.read_bytes(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def test_a_weekly_summary_delivered_days_late_lists_what_is_late_on_the_day_it_is_sent(
    review_queued: Engine, tmp_path: Path
) -> None:
    report(review_queued, ["skolor.kommun"])  # on Tuesday: one of the four is no longer late
    deliver(review_queued, at(2027, 4, 15), Settings(mailer="file", mail_dir=tmp_path / "mail"))
    (mail,) = weekly_mails(tmp_path / "mail")
    assert str(mail["To"]) == "bra@litenstad.example"
    assert str(mail["Subject"]).startswith("Veckans genomgång 2027-W15: 3 försenade uppföljningar")
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "Försenade uppföljningar (3)" in text
    late = [line for line in text.splitlines() if "uppföljning 2026, sista dag 31 mars 2027" in line]
    assert len(late) == 3
    # 15 days late on 15 April, the day it is read, not the 12 of the Monday it was queued.
    assert all("15 dagar sen" in line for line in late)
    assert not any("Trygga skolor" in line for line in late)


def test_a_weekly_summary_whose_late_follow_ups_were_all_reported_before_delivery_is_withdrawn(
    review_queued: Engine, tmp_path: Path
) -> None:
    report(review_queued, list(REPORTS))
    result = deliver(review_queued, at(2027, 4, 15), Settings(mailer="file", mail_dir=tmp_path / "mail"))
    assert weekly_mails(tmp_path / "mail") == []
    with db.transaction(review_queued) as s:
        week = s.scalars(select(OutboxRow).where(OutboxRow.key == WEEK)).one()
    assert (week.state, week.last_error, week.sent_at) == (
        "withdrawn",
        "inget är försenat, olevererat eller flaggat längre",
        None,
    )
    assert result.withdrawn == 1
