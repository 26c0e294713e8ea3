"""Mail whose content depends on the agreement file: digests across agreements, its own clauses.

Real engine, real outbox and dispatcher, the real .eml file mailer and a real SMTP
server (aiosmtpd on 127.0.0.1); each mail is parsed back as a mail client would.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from engine import db, parties
from engine.agreement import Agreement, load_agreement
from engine.models import OutboxRow
from engine.plan import load_plan
from engine.tick import next_wakeup, tick
from notifications.dispatcher import deliver
from notifications.settings import Settings, SmtpSettings

STHLM = ZoneInfo("Europe/Stockholm")
ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "tests" / "data" / "minimal.yaml"
SHARED = "kommunpolis@polisen.example"  # the police contact in both agreements
EXEMPEL_OWNER = ("Brottsförebyggande rådet i Exempelstad", "bra@exempelstad.example")
GRANNBY_OWNER = ("Brottsförebyggande rådet i Grannby", "bra@grannby.example")
LOADED = datetime(2026, 11, 24, 9, 0, tzinfo=STHLM)


def grannby(tmp_path: Path) -> Agreement:
    """A copy of the minimal agreement for a second municipality, with the same police contact."""
    text = (
        MINIMAL.read_text(encoding="utf-8")
        .replace("id: exempel", "id: grannby")
        .replace("Exempelstad", "Grannby")
        .replace("@exempelstad.example", "@grannby.example")
    )
    assert SHARED in text and "exempelstad" not in text.lower()
    path = tmp_path / "grannby.yaml"
    path.write_text(text, encoding="utf-8")
    return load_agreement(path)


def pending_for(engine: Engine, address: str) -> list[OutboxRow]:
    with db.transaction(engine) as s:
        rows = s.scalars(select(OutboxRow).where(OutboxRow.state == "pending")).all()
        return [r for r in rows if list(r.recipients) == [address]]


def tick_until_digest_for(engine: Engine, address: str, agreements: set[str]) -> datetime:
    """Tick at each wake-up, as `run` does, until ``address`` has two or more notices queued for
    one day from exactly ``agreements``; returns when the last of them is due."""
    tick(engine, LOADED)
    for _ in range(100):
        days: dict[date, list[OutboxRow]] = defaultdict(list)
        for r in pending_for(engine, address):
            days[r.send_at.astimezone(STHLM).date()].append(r)
        for rows in days.values():
            if len(rows) >= 2 and {r.agreement_id for r in rows} == agreements:
                return max(r.send_at for r in rows)
        at = next_wakeup(engine)
        assert at is not None
        tick(engine, at)
    raise AssertionError(f"no day with notices to {address} from {agreements}")


@pytest.fixture
def two_agreements(engine: Engine, minimal: Agreement, tmp_path: Path) -> tuple[Engine, datetime]:
    """Exempelstad and Grannby in one database; the shared police contact has notices from both."""
    with db.transaction(engine) as s:
        load_plan(s, minimal, now=LOADED)
        load_plan(s, grannby(tmp_path), now=LOADED)
    return engine, tick_until_digest_for(engine, SHARED, {"exempel", "grannby"})


def emls(folder: Path, kind: str) -> list[EmailMessage]:
    out = []
    for path in sorted(folder.glob(f"{kind}-*.eml")):
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def parts(msg: EmailMessage) -> tuple[str, str]:
    text, html = msg.get_body(preferencelist=("plain",)), msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    # Text parts travel with CRLF line ends; compare lines as a reader sees them.
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


def digest_to(folder: Path, address: str) -> EmailMessage:
    (mail,) = [m for m in emls(folder, "digest") if str(m["To"]) == address]
    return mail


def assert_names_each_agreement_and_its_owner(mail: EmailMessage) -> None:
    text, html = parts(mail)
    for place, (name, email) in (("Exempelstad", EXEMPEL_OWNER), ("Grannby", GRANNBY_OWNER)):
        title = f"Samverkansöverenskommelse mellan {place} och Polismyndigheten, lokalpolisområde Exempel"
        assert f"{title}\nFrågor besvaras av {name}, {email}." in text
        assert f"{title}<br>Frågor besvaras av {name}, " in html
        assert f'href="mailto:{email}"' in html
    # One signature line, the digest's own: an item's "-- " would hide every later item as a signature.
    assert text.splitlines().count("-- ") == 1


# -- point 12: a digest that mixes agreements -----------------------------------------------


def test_a_digest_mixing_agreements_has_no_reply_to_and_names_each_owner(
    two_agreements: tuple[Engine, datetime], tmp_path: Path
) -> None:
    engine, due = two_agreements
    settings = Settings(mailer="file", mail_dir=tmp_path / "outbox", digest=True)
    assert deliver(engine, due, settings).failed == 0
    mail = digest_to(tmp_path / "outbox", SHARED)
    assert "Reply-To" not in mail
    assert str(mail["X-Samverkan-Kind"]) == "digest"
    assert_names_each_agreement_and_its_owner(mail)


def test_a_digest_mixing_agreements_is_answered_at_the_settings_reply_to(
    two_agreements: tuple[Engine, datetime], tmp_path: Path
) -> None:
    engine, due = two_agreements
    settings = Settings(mailer="file", mail_dir=tmp_path / "outbox", digest=True, reply_to="samverkan@polisen.example")
    deliver(engine, due, settings)
    assert str(digest_to(tmp_path / "outbox", SHARED)["Reply-To"]) == "samverkan@polisen.example"


def test_a_digest_mixing_agreements_over_smtp(two_agreements: tuple[Engine, datetime], smtp_server) -> None:  # type: ignore[no-untyped-def]
    engine, due = two_agreements
    settings = Settings(
        mailer="smtp", sender="samverkan@exempel.example", smtp=SmtpSettings(port=smtp_server.port), digest=True
    )
    report = deliver(engine, due, settings)
    assert report.failed == 0
    (received,) = [r for r in smtp_server.sink.received if r.rcpt_tos == [SHARED]]
    assert str(received.message["X-Samverkan-Kind"]) == "digest"
    assert "Reply-To" not in received.message
    assert_names_each_agreement_and_its_owner(received.message)


def test_a_digest_from_one_agreement_is_answered_by_its_process_owner(
    engine: Engine, minimal: Agreement, tmp_path: Path
) -> None:
    doc = grannby(tmp_path).model_dump(mode="json")
    doc["areas"][1]["efforts"][0]["commitments"]["kommun"]["responsible"] = "fritid"
    fritid = "fritid@grannby.example"  # now responsible for two commitments, both in Grannby's agreement
    with db.transaction(engine) as s:
        load_plan(s, minimal, now=LOADED)
        load_plan(s, Agreement.model_validate(doc), now=LOADED)
    due = tick_until_digest_for(engine, fritid, {"grannby"})
    deliver(engine, due, Settings(mailer="file", mail_dir=tmp_path / "outbox", digest=True, reply_to="x@y.example"))
    mail = digest_to(tmp_path / "outbox", fritid)
    assert str(mail["Reply-To"]) == GRANNBY_OWNER[1]
    text, html = parts(mail)
    assert "Exempelstad" not in text + html and "besvaras av" not in text + html
    assert f"Frågor? Kontakta {GRANNBY_OWNER[0]}, {GRANNBY_OWNER[1]}." in text
    assert text.splitlines().count("-- ") == 1


def test_reply_to_in_the_settings_must_be_an_address() -> None:
    with pytest.raises(ValueError, match="reply_to"):
        Settings(reply_to="inte en adress")  # type: ignore[arg-type]


# -- point 13: the termination and change mails quote the file's own clause -----------------


def terminate_and_deliver(engine: Engine, agreement: Agreement, tmp_path: Path) -> EmailMessage:
    with db.transaction(engine) as s:
        load_plan(s, agreement, now=LOADED)
        parties.terminate(
            s, party="kommun", effective=date(2027, 6, 30), reason="Ny överenskommelse", by="KS", now=LOADED
        )
    deliver(engine, LOADED, Settings(mailer="file", mail_dir=tmp_path / "outbox"))
    (mail,) = emls(tmp_path / "outbox", "termination_notice")
    return mail


def test_a_termination_under_a_file_without_a_clause_quotes_nothing(
    engine: Engine, minimal: Agreement, tmp_path: Path
) -> None:
    assert minimal.agreement.termination_clause is None
    text, html = parts(terminate_and_deliver(engine, minimal, tmp_path))
    for part in (text, html):
        assert "Överenskommelsen anger" not in part
        assert "Vardera part har rätt att säga upp överenskommelsen." not in part
        assert "Ny överenskommelse" in part


def test_a_termination_quotes_the_files_own_clause_in_both_parts(
    engine: Engine, boras: Agreement, tmp_path: Path
) -> None:
    assert boras.agreement.termination_clause == "Vardera part har rätt att säga upp överenskommelsen."
    text, html = parts(terminate_and_deliver(engine, boras, tmp_path))
    quote = "Överenskommelsen anger: ”Vardera part har rätt att säga upp överenskommelsen.”"
    assert quote in text
    assert "Överenskommelsen anger: <em>”Vardera part har rätt att säga upp överenskommelsen.”</em>" in html


def test_a_clause_never_reaches_a_header(engine: Engine, minimal: Agreement, tmp_path: Path) -> None:
    doc = minimal.model_dump(mode="json")
    doc["agreement"]["termination_clause"] = "Parterna får säga upp.\r\nBcc: angripare@evil.example\r\n=?utf-8?q?x?="
    text, html = parts(terminate_and_deliver(engine, Agreement.model_validate(doc), tmp_path))
    (raw,) = (tmp_path / "outbox").glob("termination_notice-*.eml")
    headers = raw.read_bytes().split(b"\r\n\r\n", 1)[0].decode()
    assert "Bcc" not in headers and "evil" not in headers and "Parterna" not in headers
    assert "Bcc: angripare@evil.example" in text and "Parterna får säga upp." in html


def test_a_change_notice_quotes_the_files_change_clause_only_when_it_has_one(
    engine: Engine, boras: Agreement, minimal: Agreement, tmp_path: Path
) -> None:
    with db.transaction(engine) as s:
        load_plan(s, boras, now=LOADED)
        load_plan(s, minimal, now=LOADED)
        for agreement_id in ("boras", "exempel"):
            parties.notify_change(
                s, party="polis", text="Kommunpolisen halveras.", by="LPO", now=LOADED, agreement_id=agreement_id
            )
    deliver(engine, LOADED, Settings(mailer="file", mail_dir=tmp_path / "outbox"))
    quote = "Om förutsättningar för att följa överenskommelsen förändras ska den andra parten meddelas."
    by_agreement = {}
    for mail in emls(tmp_path / "outbox", "change_notice"):
        text, html = parts(mail)
        by_agreement["Borås" if "Borås" in text else "Exempel"] = (text, html)
    assert quote in by_agreement["Borås"][0] and quote in by_agreement["Borås"][1]
    assert all(quote not in part and "Överenskommelsen anger" not in part for part in by_agreement["Exempel"])
