"""One mail per address per send slot: what a busy official gets, by default.

Borås on 1 March 2027: 28 reminders fall due for 8 addresses; the police contact has 14.
Each address gets one mail naming all of its follow-ups, most urgent first, each with its
own button; a single notice keeps its own form; changed conditions stay separate; the
process owner's morning is one mail grouped by förvaltning.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select

from engine import db
from engine.agreement import Agreement
from engine.api import commands
from engine.models import OutboxRow
from engine.outbox import queue
from engine.plan import load_plan
from engine.tick import tick
from notifications.dispatcher import deliver
from notifications.links import inbox_link_maker_for, link_maker_for
from notifications.settings import SenderSettings, Settings, SmtpSettings
from rules.model import QueueNotice

STHLM = ZoneInfo("Europe/Stockholm")
POLICE = "kommunpolis@polisen.example"
BRAB = "brab@boras.example"
BASE = "https://samverkan.boras.example"


def at(y: int, m: int, d: int, hh: int = 8) -> datetime:
    return datetime(y, m, d, hh, tzinfo=STHLM)


def smtp(port: int, **kw: object) -> Settings:
    return Settings(
        mailer="smtp",
        sender="samverkan@boras.example",
        smtp=SmtpSettings(port=port, timeout_seconds=5),
        base_url=BASE,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def loaded(engine: Engine, boras: Agreement) -> Engine:
    with db.transaction(engine) as s:
        load_plan(s, boras, now=at(2026, 11, 24, 9))
    tick(engine, at(2026, 11, 24, 9))
    return engine


@pytest.fixture
def reminders_due(loaded: Engine) -> Engine:
    assert tick(loaded, at(2027, 3, 1)).notices == 28
    return loaded


def send(engine: Engine, now: datetime, settings: Settings) -> None:
    deliver(
        engine,
        now,
        settings,
        link=link_maker_for(engine, settings),
        inbox=inbox_link_maker_for(engine, settings),
    )


def police_efforts(boras: Agreement) -> set[str]:
    return {effort.title for _, effort, party, _ in boras.commitments() if party == "polis"}


def body(mail: EmailMessage, kind: str) -> str:
    part = mail.get_body(preferencelist=(kind,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def plain(path: Path) -> str:
    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return body(mail, "plain")


def mails_to(received: list, address: str) -> list[EmailMessage]:  # type: ignore[type-arg]
    return [r.message for r in received if r.rcpt_tos == [address]]


def test_each_address_gets_one_mail_naming_all_its_follow_ups_each_with_its_own_button(
    reminders_due: Engine, boras: Agreement, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    send(reminders_due, at(2027, 3, 1), smtp(smtp_server.port))
    received = smtp_server.sink.received
    assert len(received) == 8 and len({tuple(r.rcpt_tos) for r in received}) == 8
    (mail,) = mails_to(received, POLICE)
    assert str(mail["X-Samverkan-Kind"]) == "digest"
    assert str(mail["Subject"]) == "14 uppföljningar att lämna – den första senast 31 mars 2027"
    text, html = body(mail, "plain"), body(mail, "html")
    efforts = police_efforts(boras)  # 15, one of them ended before 2026
    assert sum(e in text for e in efforts) == 14
    assert text.count("Lämna uppföljningen för 2026 – senast 31 mars 2027 (om 30 dagar).") == 14
    assert boras.agreement.title in text
    # Its own button per item, and one personal link to all of them.
    assert len(set(re.findall(rf"{BASE}/uppfoljning/[\w.-]+", text))) == 14
    assert len(set(re.findall(rf"{BASE}/mina/[\w.-]+", text))) == 1
    assert html.count(">Registrera uppföljningen</a>") == 14 and ">Mina uppföljningar</a>" in html
    assert "Du behöver inte logga in" in text
    assert "14 dagar efter sista dagen får processägaren" in text
    # The footer links the accessibility statement: the web's address is known.
    assert f'<a href="{BASE}/tillganglighet"' in html and f"{BASE}/tillganglighet" in text
    # Every notice is marked sent; the mail counts once.
    with db.transaction(reminders_due) as s:
        assert Counter(s.scalars(select(OutboxRow.state))) == {"sent": 28}


def test_a_single_notice_keeps_its_own_form(reminders_due: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    send(reminders_due, at(2027, 3, 1), smtp(smtp_server.port))
    (mail,) = mails_to(smtp_server.sink.received, "arbetsliv@boras.example")
    assert str(mail["X-Samverkan-Kind"]) == "reminder"
    assert str(mail["Subject"]).startswith("Påminnelse: uppföljning 2026 av Våld i nära relationer")
    assert f"{BASE}/mina/" in body(mail, "plain")  # the personal link is in every such mail


def test_the_edge_of_a_batch_never_splits_an_addresss_mail(reminders_due: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    send(reminders_due, at(2027, 3, 1), smtp(smtp_server.port, batch_size=3))
    received = smtp_server.sink.received
    assert len(received) == 8
    (mail,) = mails_to(received, POLICE)
    assert str(mail["Subject"]).startswith("14 uppföljningar")


def test_on_the_due_day_the_subject_says_today(loaded: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    tick(loaded, at(2027, 3, 31))
    send(loaded, at(2027, 3, 31), smtp(smtp_server.port))
    (mail,) = mails_to(smtp_server.sink.received, POLICE)
    assert str(mail["Subject"]) == "14 uppföljningar att lämna – den första i dag"
    assert "senast i dag, 31 mars 2027" in body(mail, "plain")


def test_digest_false_gives_one_mail_per_notice(reminders_due: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    send(reminders_due, at(2027, 3, 1), smtp(smtp_server.port, digest=False))
    assert len(smtp_server.sink.received) == 28
    assert {str(r.message["X-Samverkan-Kind"]) for r in smtp_server.sink.received} == {"reminder"}


def test_the_process_owners_morning_is_one_mail_grouped_by_forvaltning(
    loaded: Engine, boras: Agreement, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    settings = smtp(smtp_server.port)
    for day in (at(2027, 3, 1), at(2027, 3, 24), at(2027, 3, 31), at(2027, 4, 1)):
        tick(loaded, day)
        send(loaded, day, settings)
    smtp_server.sink.received.clear()
    tick(loaded, at(2027, 4, 14))  # 14 days late: the escalations
    send(loaded, at(2027, 4, 14), settings)
    # The weekly summary of 12 April, not sent until now, is folded in, not a mail of its own.
    (mail,) = mails_to(smtp_server.sink.received, BRAB)
    assert str(mail["Subject"]) == "24 uppföljningar saknas hos 7 förvaltningar och veckans genomgång"
    text = body(mail, "plain")
    units = {u.name for u in boras.units if u.id != boras.agreement.process_owner}
    headings = re.findall(r"^== (.+) ==$", text, flags=re.MULTILINE)
    assert len(headings) == 7 and set(headings) <= units
    assert text.count("Uppföljningen för 2026 saknas – sista dag var 31 mars 2027, 14 dagar sen.") == 24
    assert "Veckans genomgång 2027-W15: 28 försenade uppföljningar" in text.splitlines()
    assert f"{BASE}/forsenat" in text  # the review page, not a command
    assert "samverkan overdue" not in text


def test_the_weekly_summary_links_the_overdue_page(loaded: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    for day in (at(2027, 3, 1), at(2027, 4, 1)):
        tick(loaded, day)
    send(loaded, at(2027, 4, 1), smtp(smtp_server.port))
    smtp_server.sink.received.clear()
    tick(loaded, at(2027, 4, 5))  # a Monday
    send(loaded, at(2027, 4, 5), smtp(smtp_server.port))
    (mail,) = [m for m in mails_to(smtp_server.sink.received, BRAB) if m["X-Samverkan-Kind"] == "weekly_summary"]
    text = body(mail, "plain")
    assert f"Hela genomgången: {BASE}/forsenat" in text.splitlines()
    assert "samverkan overdue" not in text
    assert f'<a href="{BASE}/tillganglighet"' in body(mail, "html")


def test_a_changed_conditions_notice_stays_separate_and_immediate(reminders_due: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    commands.notify_change(reminders_due, party="polis", text="Kommunpolisen halveras.", by="Kim", now=at(2027, 3, 1))
    send(reminders_due, at(2027, 3, 1), smtp(smtp_server.port))
    kinds = Counter(str(m["X-Samverkan-Kind"]) for m in mails_to(smtp_server.sink.received, BRAB))
    assert kinds == {"digest": 1, "change_notice": 1}


def test_a_retried_mail_goes_out_again_whole(reminders_due: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    smtp_server.sink.data_replies = ["451 4.3.0 Försök igen senare"]
    settings = smtp(smtp_server.port)
    send(reminders_due, at(2027, 3, 1), settings)
    first = smtp_server.sink.message_ids()
    with db.transaction(reminders_due) as s:
        waiting = s.scalars(select(OutboxRow).where(OutboxRow.state == "pending")).all()
    assert len(first) == 7 and len({r.group_key for r in waiting}) == 1  # one address's mail, all its notices
    send(reminders_due, at(2027, 3, 1, 14), settings)
    assert len(smtp_server.sink.message_ids()) == 8
    with db.transaction(reminders_due) as s:
        assert Counter(s.scalars(select(OutboxRow.state))) == {"sent": 28}


def test_two_dispatchers_at_once_send_each_notice_in_exactly_one_mail(reminders_due: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    smtp_server.sink.delay = 0.01
    settings = smtp(smtp_server.port, batch_size=2)
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            deliver(reminders_due, at(2027, 3, 1), settings, worker=name)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"d{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(Counter(smtp_server.sink.message_ids()).values()) == [1] * len(smtp_server.sink.received)
    with db.transaction(reminders_due) as s:
        assert Counter(s.scalars(select(OutboxRow.state))) == {"sent": 28}
        mids = Counter(s.scalars(select(OutboxRow.message_id)))
    # Every notice went in one mail, and every mail that went out holds what was marked with it.
    assert sum(mids.values()) == 28 and set(mids) == set(smtp_server.sink.message_ids())


def test_the_agreements_own_sender_name_from_and_reply_to(reminders_due: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    own = SenderSettings(
        sender="trygghet@boras.example", sender_name="Trygg i Borås", reply_to="brab-svar@boras.example"
    )
    send(reminders_due, at(2027, 3, 1), smtp(smtp_server.port, agreements={"boras": own}))
    (mail,) = mails_to(smtp_server.sink.received, POLICE)
    assert str(mail["From"]) == "Trygg i Borås <trygghet@boras.example>"
    assert str(mail["Reply-To"]) == "brab-svar@boras.example"


def test_the_agreement_file_can_name_the_sender(engine: Engine, boras: Agreement, tmp_path: Path) -> None:
    doc = boras.model_dump(mode="json")
    doc["agreement"]["mail"] = {"sender": "samverkan@boras.example", "sender_name": "Borås samverkan"}
    with db.transaction(engine) as s:
        load_plan(s, Agreement.model_validate(doc), now=at(2026, 11, 24, 9))
    tick(engine, at(2026, 11, 24, 9))
    tick(engine, at(2027, 3, 1))
    deliver(engine, at(2027, 3, 1), Settings(mailer="file", mail_dir=tmp_path / "out"))
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in (tmp_path / "out").glob("*.eml")]
    assert len(mails) == 8
    assert {str(m["From"]) for m in mails} == {"Borås samverkan <samverkan@boras.example>"}
    # Reply-To stays with the process owner: the file named none.
    assert {str(m["Reply-To"]) for m in mails} == {BRAB}


def test_a_resent_grouped_mail_keeps_its_message_id_and_personal_link(reminders_due: Engine, tmp_path: Path) -> None:
    settings = Settings(mailer="file", mail_dir=tmp_path / "out", base_url=BASE)
    send(reminders_due, at(2027, 3, 1), settings)
    files = {p.name: plain(p) for p in (tmp_path / "out").glob("digest-*.eml")}
    with db.transaction(reminders_due) as s:  # as if the mark had been lost
        for r in s.scalars(select(OutboxRow)):
            r.state = "pending"
    send(reminders_due, at(2027, 3, 1) + timedelta(hours=2), settings)
    again = {p.name: plain(p) for p in (tmp_path / "out").glob("digest-*.eml")}
    assert set(again) == set(files)
    for name, data in files.items():
        before = re.findall(r"/mina/[\w.-]+", data)
        assert before and before == re.findall(r"/mina/[\w.-]+", again[name])


def _held_cancel(engine: Engine, to: str, now: datetime) -> None:
    notice = QueueNotice(
        key="calendar_cancel:boras.mbu.polis:2026",
        kind="calendar_cancel",
        recipients=(to,),
        send_at=now,
        agreement="boras",
        commitment="boras.mbu.polis",
        period=2026,
        data={"period": 2026, "due": "2027-03-31"},
    )
    with engine.begin() as conn:
        assert queue(conn, [notice], now) == {notice.key}


def test_a_held_notice_is_never_sent_alone_and_rides_with_the_next_mail(loaded: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    settings = smtp(smtp_server.port)
    _held_cancel(loaded, POLICE, at(2027, 2, 20))
    assert deliver(loaded, at(2027, 2, 20), settings).messages == 0
    with db.transaction(loaded) as s:
        assert s.scalars(select(OutboxRow.state).where(OutboxRow.kind == "calendar_cancel")).one() == "held"
    tick(loaded, at(2027, 3, 1))
    send(loaded, at(2027, 3, 1), settings)
    assert len(mails_to(smtp_server.sink.received, POLICE)) == 1
    with db.transaction(loaded) as s:
        held = s.scalars(select(OutboxRow).where(OutboxRow.kind == "calendar_cancel")).one()
        mail = s.scalars(select(OutboxRow).where(OutboxRow.group_key == POLICE, OutboxRow.kind == "reminder")).first()
    assert held.state == "sent" and mail is not None and held.message_id == mail.message_id


def test_an_agreements_sender_name_that_would_inject_a_header_is_refused_not_sent(
    reminders_due: Engine, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    hostile = "Trygg i Borås\r\nBcc: angripare@example.com"
    with pytest.raises(ValidationError, match="radbrytning"):  # a settings file is refused it when read
        SenderSettings(sender_name=hostile)
    own = SenderSettings.model_construct(sender_name=hostile)  # settings made in code: the mail still refuses it
    report = deliver(reminders_due, at(2027, 3, 1), smtp(smtp_server.port, agreements={"boras": own}))
    assert report.failed == 28 and all("rubrikfältet From vägras" in e and "radbrytning" in e for e in report.errors)
    assert not any("angripare" in str(r.message) for r in smtp_server.sink.received)
    # The process owner hears of it once, from the settings' own sender (the agreement's is what failed).
    (told,) = smtp_server.sink.received
    assert str(told.message["X-Samverkan-Kind"]) == "delivery_failed" and told.rcpt_tos == [BRAB]
    assert str(told.message["From"]) == "Samverkan <samverkan@boras.example>"
