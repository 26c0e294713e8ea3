"""Delivery through the outbox to a real SMTP server: once, in Swedish, whatever fails."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import Engine, select, text

from engine import db, parties, service
from engine.agreement import Agreement
from engine.models import EffortRow, OutboxRow
from engine.plan import load_plan
from engine.tick import tick
from notifications.calendar_export import export_ics
from notifications.dispatcher import deliver
from notifications.mailers import Outgoing, SendResult
from notifications.mailers.smtp import SmtpMailer
from notifications.settings import Settings, SmtpSettings

STHLM = ZoneInfo("Europe/Stockholm")


def at(y: int, m: int, d: int, hh: int = 8, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=STHLM)


def smtp(port: int, **kw: object) -> Settings:
    """One mail per notice: these tests count deliveries of notices (the grouped default: test_grouped_mail.py)."""
    kw.setdefault("digest", False)
    return Settings(
        mailer="smtp", sender="samverkan@boras.example", smtp=SmtpSettings(port=port, timeout_seconds=5), **kw
    )  # type: ignore[arg-type]


@pytest.fixture
def reminders_due(engine: Engine, boras: Agreement) -> Engine:
    """Borås loaded in 2026; on 2027-03-01 the first reminder of 28 commitments is due."""
    with db.transaction(engine) as s:
        load_plan(s, boras, now=at(2026, 11, 24, 9))
    tick(engine, at(2026, 11, 24, 9))
    assert tick(engine, at(2027, 3, 1)).notices == 28
    return engine


def states(engine: Engine) -> Counter[str]:
    with db.transaction(engine) as s:
        return Counter(s.scalars(select(OutboxRow.state)))


def test_a_reminder_arrives_with_recipient_subject_body_and_ics(reminders_due: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    report = deliver(reminders_due, at(2027, 3, 1), smtp(smtp_server.port))
    assert (report.sent, report.retried, report.failed) == (28, 0, 0)
    by_to = {r.rcpt_tos[0]: r for r in smtp_server.sink.received if "MBU" in str(r.message["Subject"])}
    mail = by_to["kommunpolis@polisen.example"].message
    assert str(mail["Subject"]).startswith("Påminnelse: uppföljning 2026")
    assert "31 mars 2027" in str(mail["Subject"])
    # Folded into several encoded words, the subject keeps every space (policy.default on 3.11.7 did not).
    assert "av MBU – Människan bakom uniformen (Polismyndigheten, lokalpolisområde Borås)" in str(mail["Subject"])
    text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "Bidra med personal, material och transporter" in text  # the commitment's own text
    assert "brab@boras.example" in text and "brab@boras.example" in html  # who to ask
    (ics,) = [p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"]
    event = next(c for c in Calendar.from_ical(ics.get_content()).walk("VEVENT"))
    assert event.decoded("dtstart") == date(2027, 3, 31)
    assert len(set(smtp_server.sink.message_ids())) == 28


def test_delivered_notices_are_not_sent_again(reminders_due: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    deliver(reminders_due, at(2027, 3, 1), smtp(smtp_server.port))
    again = deliver(reminders_due, at(2027, 3, 1, 9), smtp(smtp_server.port))
    assert again.claimed == 0 and len(smtp_server.sink.received) == 28
    assert states(reminders_due) == {"sent": 28}


def test_server_down_then_up_delivers_each_notice_once(reminders_due: Engine, smtp_port_closed) -> None:  # type: ignore[no-untyped-def]
    settings = smtp(smtp_port_closed.port)
    first = deliver(reminders_due, at(2027, 3, 1), settings)
    assert (first.sent, first.retried) == (0, 28)
    assert states(reminders_due) == {"pending": 28}
    smtp_port_closed.start()
    assert deliver(reminders_due, at(2027, 3, 1, 8, 0) + timedelta(seconds=1), settings).sent == 0  # backoff holds
    later = deliver(reminders_due, at(2027, 3, 1, 12), settings)
    assert later.sent == 28
    ids = smtp_port_closed.sink.message_ids()
    assert len(ids) == len(set(ids)) == 28


def test_421_and_451_replies_are_retried_then_delivered(reminders_due: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    smtp_server.sink.data_replies = ["451 4.3.0 Försök igen senare", "421 4.7.0 Stänger"] * 3
    settings = smtp(smtp_server.port)
    first = deliver(reminders_due, at(2027, 3, 1), settings)
    assert (first.sent, first.retried, first.failed) == (22, 6, 0)
    with db.transaction(reminders_due) as s:
        waiting = s.scalars(select(OutboxRow).where(OutboxRow.state == "pending")).all()
        assert {r.attempts for r in waiting} == {1} and all(r.last_error for r in waiting)
    second = deliver(reminders_due, at(2027, 3, 1, 14), settings)
    assert second.sent == 6
    assert sorted(Counter(smtp_server.sink.message_ids()).values()) == [1] * 28


def test_550_marks_the_notice_failed_with_the_answer_and_tells_the_process_owner(
    reminders_due: Engine, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    smtp_server.sink.refuse["sdf-vaster@boras.example"] = "550 5.1.1 Mottagaren finns inte"
    report = deliver(reminders_due, at(2027, 3, 1), smtp(smtp_server.port))
    # 27 reminders, then in the same run the report of the failure to the process owner.
    assert (report.sent, report.failed) == (28, 1)
    with db.transaction(reminders_due) as s:
        failed = s.scalars(select(OutboxRow).where(OutboxRow.state == "failed")).one()
        told = s.scalars(select(OutboxRow).where(OutboxRow.kind == "delivery_failed")).one()
    assert failed.recipients == ["sdf-vaster@boras.example"]
    assert failed.last_error is not None and "550 5.1.1 Mottagaren finns inte" in failed.last_error
    assert (told.recipients, told.state) == (["brab@boras.example"], "sent")
    (notice,) = [r for r in smtp_server.sink.received if r.message["X-Samverkan-Kind"] == "delivery_failed"]
    assert notice.rcpt_tos == ["brab@boras.example"]
    body = notice.message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "sdf-vaster@boras.example" in body and "550 5.1.1" in body


class CrashAfterSend:
    """Sends for real, then dies before the dispatcher can mark anything."""

    name = "crash"

    def __init__(self, inner: SmtpMailer) -> None:
        self.inner = inner

    async def send_all(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        await self.inner.send_all(batch)
        raise RuntimeError("processen dog mellan sändning och markering")

    async def close(self) -> None:
        await self.inner.close()


def test_killed_between_send_and_mark_no_notice_is_lost(reminders_due: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    settings = smtp(smtp_server.port, batch_size=10)
    with pytest.raises(RuntimeError):
        deliver(reminders_due, at(2027, 3, 1), settings, mailer=CrashAfterSend(SmtpMailer(settings.smtp)))
    assert states(reminders_due) == {"sending": 10, "pending": 18}
    # Another dispatcher after the lease: the 10 stuck rows are claimed again with the rest.
    report = deliver(reminders_due, at(2027, 3, 1, 8, 11), settings, worker="andra")
    assert report.sent == 28 and states(reminders_due) == {"sent": 28}
    counts = Counter(smtp_server.sink.message_ids())
    assert len(counts) == 28  # every notice arrived
    assert sorted(counts.values()) == [1] * 18 + [2] * 10  # the crashed batch twice, same Message-ID


class DropConnectionsAfterFirstSend:
    """Sends for real; after the first batch the server drops the dispatcher's connections."""

    name = "drop"

    def __init__(self, inner: SmtpMailer, admin: Engine, application: str) -> None:
        self.inner = inner
        self.admin = admin
        self.application = application
        self.dropped = 0

    async def send_all(self, batch: Iterable[Outgoing]) -> list[SendResult]:
        results = await self.inner.send_all(batch)
        if not self.dropped:
            with self.admin.begin() as conn:
                self.dropped = conn.execute(
                    text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :a"),
                    {"a": self.application},
                ).scalar_one()
        return results

    async def close(self) -> None:
        await self.inner.close()


@pytest.mark.postgresql
def test_a_batch_sent_while_the_database_drops_its_connections_is_marked_once_it_is_back(
    pg_url: str,
    boras: Agreement,
    smtp_server,  # type: ignore[no-untyped-def]
    caplog: pytest.LogCaptureFixture,
) -> None:
    application = f"samverkan-test-{uuid.uuid4().hex[:8]}"
    engine = db.connect(f"{pg_url}&application_name={application}")
    admin = db.connect(pg_url)
    try:
        db.upgrade(engine)
        with db.transaction(engine) as s:
            load_plan(s, boras, now=at(2026, 11, 24, 9))
        tick(engine, at(2026, 11, 24, 9))
        assert tick(engine, at(2027, 3, 1)).notices == 28
        settings = smtp(smtp_server.port, batch_size=10)
        mailer = DropConnectionsAfterFirstSend(SmtpMailer(settings.smtp), admin, application)

        report = deliver(engine, at(2027, 3, 1), settings, mailer=mailer)

        assert mailer.dropped >= 1  # the fault happened: the dispatcher's connection was cut
        # The fault lands on whichever statement next uses a cut connection: the mark of the batch
        # sent, or the claim of the next one, made while it was sent; each says so and tries again.
        assert (
            "kunde inte markera 10 skickade meddelanden" in caplog.text
            or "kunde inte hämta nästa omgång" in caplog.text
        )
        assert (report.sent, report.retried, report.failed) == (28, 0, 0)
        assert states(engine) == {"sent": 28}
        assert sorted(Counter(smtp_server.sink.message_ids()).values()) == [1] * 28  # none twice
    finally:
        engine.dispose()
        admin.dispose()


def test_two_dispatchers_at_once_never_send_a_notice_twice(reminders_due: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    smtp_server.sink.delay = 0.01
    settings = smtp(smtp_server.port, batch_size=3)
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
    assert sorted(Counter(smtp_server.sink.message_ids()).values()) == [1] * 28
    with db.transaction(reminders_due) as s:
        workers = set(s.scalars(select(OutboxRow.claimed_by)))
    assert states(reminders_due) == {"sent": 28}
    if reminders_due.dialect.name == "postgresql":
        assert workers == {"d0", "d1"}  # SKIP LOCKED shared the work


def test_change_notice_reaches_the_other_party_and_the_process_owner(reminders_due: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    with db.transaction(reminders_due) as s:
        parties.notify_change(
            s,
            party="polis",
            text="Kommunpolisen halveras under hösten.\r\nBcc: angripare@example.com <b>fet</b>",
            by="Lokalpolisområdeschef",
            commitments=["mbu.polis"],
            now=at(2027, 3, 2, 10),
        )
    deliver(reminders_due, at(2027, 3, 2, 10), smtp(smtp_server.port))
    (mail,) = [r for r in smtp_server.sink.received if r.message["X-Samverkan-Kind"] == "change_notice"]
    assert sorted(mail.rcpt_tos) == ["brab@boras.example"]  # kommun's contact is BråB, also the process owner
    assert "Bcc" not in mail.message and "angripare" not in str(mail.message["To"])
    html = mail.message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "&lt;b&gt;fet&lt;/b&gt;" in html
    with db.transaction(reminders_due) as s:
        assert service.resolve_commitment(s, "mbu.polis").revision_flag is not None


def test_termination_reaches_the_other_party_and_nothing_is_sent_after_it(reminders_due: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    settings = smtp(smtp_server.port)
    with db.transaction(reminders_due) as s:
        parties.terminate(
            s,
            party="kommun",
            effective=date(2027, 3, 20),
            reason="Ny överenskommelse tecknas",
            by="KS",
            now=at(2027, 3, 1, 7),
        )
    deliver(reminders_due, at(2027, 3, 1, 8), settings)
    kinds = Counter(r.message["X-Samverkan-Kind"] for r in smtp_server.sink.received)
    assert kinds == {"reminder": 28, "termination_notice": 1}
    (term,) = [r for r in smtp_server.sink.received if r.message["X-Samverkan-Kind"] == "termination_notice"]
    assert sorted(term.rcpt_tos) == ["brab@boras.example", "kommunpolis@polisen.example"]
    # The -7 reminder (24 March) falls after the termination takes effect (20 March): never queued.
    for day in (at(2027, 3, 20, 0), at(2027, 3, 24), at(2027, 4, 1), at(2027, 4, 14)):
        tick(reminders_due, day)
        deliver(reminders_due, day, settings)
    assert len(smtp_server.sink.received) == 29
    with db.transaction(reminders_due) as s:
        assert {r.state for r in service.status(s)} == {"avslutad"}


def test_header_injection_in_an_agreement_title_is_refused_not_sent(
    engine: Engine, boras: Agreement, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    # A file is refused such a title at load (tests/security/test_files.py); this is an
    # agreement stored before titles were checked, so the mail builder still refuses it.
    with db.transaction(engine) as s:
        load_plan(s, boras, now=at(2026, 11, 24, 9))
        mbu = s.get(EffortRow, ("boras", "mbu"))
        assert mbu is not None
        mbu.title = "=?utf-8?q?MBU=0D=0ABcc=3A_x=40evil.example?="
    tick(engine, at(2026, 11, 24, 9))
    tick(engine, at(2027, 3, 1))
    report = deliver(engine, at(2027, 3, 1), smtp(smtp_server.port))
    assert (report.sent, report.failed) == (26 + 1, 2)  # 26 reminders + 1 report of both failures to BråB
    for r in smtp_server.sink.received:
        assert "Bcc" not in r.message
        assert all("evil" not in a for a in r.rcpt_tos)
    with db.transaction(engine) as s:
        failed = s.scalars(select(OutboxRow).where(OutboxRow.state == "failed")).all()
    assert {f.commitment_id for f in failed} == {"boras.mbu.kommun", "boras.mbu.polis"}
    assert all("vägras" in (f.last_error or "") for f in failed)


def test_the_file_mailer_writes_one_eml_per_notice_and_a_resend_replaces_it(
    reminders_due: Engine, tmp_path: Path
) -> None:
    settings = Settings(mailer="file", mail_dir=tmp_path / "outbox", digest=False)
    assert deliver(reminders_due, at(2027, 3, 1), settings).sent == 28
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 28 and all(f.name.startswith("reminder-") for f in files)
    with db.transaction(reminders_due) as s:  # as if the mark had been lost
        for r in s.scalars(select(OutboxRow)):
            r.state = "pending"
    deliver(reminders_due, at(2027, 3, 1, 9), settings)
    assert sorted((tmp_path / "outbox").glob("*.eml")) == files


def _events(mail_dir: Path, to: str) -> list[tuple[str, date]]:
    out = []
    for path in sorted(mail_dir.glob("*.eml")):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        if mail["To"] != to or "MBU" not in str(mail["Subject"]):
            continue
        for part in mail.iter_attachments():
            if part.get_content_type() == "text/calendar":
                event = next(iter(Calendar.from_ical(part.get_content()).walk("VEVENT")))
                out.append((str(event["uid"]), event.decoded("dtstart")))
    return out


def test_the_reminders_of_one_deadline_carry_one_calendar_event_the_export_shares(
    reminders_due: Engine, tmp_path: Path
) -> None:
    files = Settings(mailer="file", mail_dir=tmp_path / "outbox", digest=False)
    deliver(reminders_due, at(2027, 3, 1), files)  # 30 days before 31 March
    assert tick(reminders_due, at(2027, 3, 24)).notices > 0  # 7 days before
    deliver(reminders_due, at(2027, 3, 24), files)
    events = _events(tmp_path / "outbox", "kommunpolis@polisen.example")
    assert len(events) == 2 and len({uid for uid, _ in events}) == 1  # one event, updated, not two
    with db.transaction(reminders_due) as s:
        exported, _ = export_ics(s, now=at(2027, 3, 24))
    uids = {str(e["uid"]) for e in Calendar.from_ical(exported).walk("VEVENT")}
    assert events[0][0] in uids
