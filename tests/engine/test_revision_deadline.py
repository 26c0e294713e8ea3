"""One deadline, one date (issue 11, point 10).

The small agreement is signed on 2019-04-15 with a revision every 3 years: revision 1's
nominal date, 2022-04-15, is Good Friday, and Easter Monday is 18 April, so its deadline
is Tuesday 2022-04-19. Every place a person reads about the revision says 19 April.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import Engine, select

from engine import db
from engine.clock import FixedClock
from engine.models import OutboxRow
from engine.tick import tick
from notifications.dispatcher import deliver
from notifications.settings import Settings
from samverkan.cli import main

STHLM = ZoneInfo("Europe/Stockholm")
LITEN = Path(__file__).resolve().parents[1] / "data" / "liten.yaml"
DEADLINE = "2022-04-19"
DEADLINE_SV = "19 april 2022"  # the same day in prose


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=STHLM)


def cli(engine: Engine, args: list[str], now: datetime, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    url = engine.url.render_as_string(hide_password=False)
    assert main([*args, "--db", url], clock=FixedClock(now)) == 0
    return capsys.readouterr().out


def notice(engine: Engine, key: str) -> OutboxRow:
    with db.transaction(engine) as s:
        return s.scalars(select(OutboxRow).where(OutboxRow.key == key)).one()


@pytest.fixture
def loaded(engine: Engine, capsys: pytest.CaptureFixture[str]) -> Engine:
    """Loaded with `samverkan init` on 2021-11-01, half a year before revision 1."""
    out = cli(engine, ["init", "--config", str(LITEN)], at(2021, 11, 1), capsys)
    assert f"nästa revidering senast {DEADLINE_SV}" in out  # the summary of the first load
    tick(engine, at(2021, 11, 1))
    return engine


def test_revision_status_with_no_revision_open_shows_the_working_day_deadline(
    loaded: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    out = cli(loaded, ["revision", "status"], at(2021, 11, 2), capsys)
    assert out.strip() == f"Ingen revidering pågår. Nästa revidering senast {DEADLINE_SV}."


def test_the_kickoff_notice_and_its_mail_carry_the_deadline(loaded: Engine, tmp_path: Path) -> None:
    # 60 days before 19 April is Friday 18 February.
    tick(loaded, at(2022, 2, 18, 8))
    kickoff = notice(loaded, "revision_kickoff:liten:1")
    assert kickoff.send_at == at(2022, 2, 18, 8)
    assert kickoff.data["due"] == DEADLINE
    deliver(loaded, at(2022, 2, 18, 8), Settings(mailer="file", mail_dir=tmp_path / "mail"))
    (path,) = (tmp_path / "mail").glob("revision_kickoff-*.eml")
    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(mail, EmailMessage)
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None and "Revideringen ska vara klar senast 19 april 2022." in body.get_content()
    (ics,) = [p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"]
    event = next(iter(Calendar.from_ical(ics.get_content()).walk("VEVENT")))
    assert event.decoded("dtstart") == date(2022, 4, 19)


def test_revision_status_of_the_open_revision_shows_the_working_day_deadline(
    loaded: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    tick(loaded, at(2022, 2, 18, 8))  # the kick-off opens revision 1
    out = cli(loaded, ["revision", "status"], at(2022, 2, 20), capsys)
    assert out.splitlines()[0].startswith(f"Revidering 1 pågår (sista dag {DEADLINE_SV}):")


def test_revision_start_by_hand_names_the_working_day_deadline(
    loaded: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    out = cli(loaded, ["revision", "start", "--by", "BRÅ"], at(2022, 1, 10), capsys)
    assert out.startswith(f"Revidering 1 inledd (sista dag {DEADLINE_SV})")
    assert notice(loaded, "revision_kickoff:liten:1").data["due"] == DEADLINE


def test_the_calendar_event_of_the_revision_is_on_the_deadline(
    loaded: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sista-dagar.ics"
    cli(loaded, ["calendar", "--out", str(out)], at(2022, 3, 1), capsys)
    events = [
        e for e in Calendar.from_ical(out.read_bytes()).walk("VEVENT") if str(e["summary"]).startswith("Revidering")
    ]
    assert [(str(e["summary"]), e.decoded("dtstart")) for e in events] == [
        (
            "Revidering 1 av åtagandeplanen – Samverkansöverenskommelse mellan Litenstad och Polismyndigheten,"
            " lokalpolisområde Liten (sista dag)",
            date(2022, 4, 19),
        )
    ]


def test_the_late_revision_notice_and_the_overdue_review_count_from_the_deadline(
    loaded: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    tick(loaded, at(2022, 2, 18, 8))
    tick(loaded, at(2022, 4, 19, 8))  # on the deadline: not late yet
    assert not [k for k in _keys(loaded) if k.startswith("revision_overdue:")]
    tick(loaded, at(2022, 4, 20, 8))  # the day after
    late = notice(loaded, "revision_overdue:liten:1:0")
    assert (late.data["due"], late.data["days_late"]) == (DEADLINE, 1)
    review = json.loads(cli(loaded, ["overdue", "--json"], at(2022, 4, 25), capsys))
    assert [(r["revision"], r["due"], r["days_late"]) for r in review["revisions"]] == [(1, DEADLINE, 6)]


def test_the_yearly_reports_wheel_puts_the_revision_on_the_deadline(
    loaded: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rapport.html"
    cli(loaded, ["report", "--period", "2021", "--format", "html", "--out", str(out)], at(2022, 1, 10), capsys)
    html = out.read_text(encoding="utf-8")
    assert "19 april 2022: revideringen av åtagandeplanen ska vara klar" in html
    assert "15 april 2022" not in html


def _keys(engine: Engine) -> list[str]:
    with db.transaction(engine) as s:
        return list(s.scalars(select(OutboxRow.key)))
