"""The personal follow-up link: signed, bound to one commitment and period, expiring, in every reminder mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from engine.clock import FixedClock
from engine.keys import load_secret
from engine.models import OutboxRow, WebSecret
from notifications.dispatcher import deliver
from notifications.links import (
    InboxClaim,
    LinkClaim,
    LinkExpired,
    LinkInvalid,
    LinkNotYetValid,
    inbox_link_maker,
    inbox_link_maker_for,
    link_lifetime,
    link_maker,
    link_maker_for,
    make_inbox_link,
    make_inbox_token,
    make_link,
    make_token,
    read_inbox_token,
    read_token,
)
from notifications.settings import Settings
from rules.errors import InvalidValue
from web.app import create_app

SECRET = "s" * 48
ISSUED = datetime(2027, 3, 1, 7, tzinfo=UTC)


def test_a_token_carries_the_commitment_the_period_and_when_it_was_issued() -> None:
    token = make_token(SECRET, "boras.mbu.kommun", 2026, ISSUED)
    assert read_token(SECRET, token, now=ISSUED + timedelta(days=3)) == LinkClaim("boras.mbu.kommun", 2026, ISSUED)


def test_a_link_is_the_base_url_and_the_token() -> None:
    link = make_link("https://samverkan.boras.example/", SECRET, "boras.mbu.kommun", 2026, ISSUED)
    assert link.startswith("https://samverkan.boras.example/uppfoljning/")
    assert read_token(SECRET, link.rsplit("/", 1)[1], now=ISSUED).commitment == "boras.mbu.kommun"


@pytest.mark.parametrize(
    "alter",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the signature
        lambda t: t.replace(t.split(".")[0], make_token(SECRET, "boras.mbu.polis", 2026, ISSUED).split(".")[0]),
        lambda t: t[: len(t) // 2],  # cut off in a mail client
        lambda t: "inte-en-länk",
    ],
    ids=["signature", "payload-swapped", "truncated", "garbage"],
)
def test_an_altered_token_is_invalid(alter: Any) -> None:
    token = make_token(SECRET, "boras.mbu.kommun", 2026, ISSUED)
    with pytest.raises(LinkInvalid):
        read_token(SECRET, alter(token), now=ISSUED)


def test_a_token_signed_with_another_secret_is_invalid() -> None:
    token = make_token("another secret " * 3, "boras.mbu.kommun", 2026, ISSUED)
    with pytest.raises(LinkInvalid):
        read_token(SECRET, token, now=ISSUED)


def test_a_token_expires_after_its_lifetime_and_not_before() -> None:
    token = make_token(SECRET, "boras.mbu.kommun", 2026, ISSUED)
    life = timedelta(days=60)
    assert read_token(SECRET, token, now=ISSUED + life, lifetime=life).period == 2026
    with pytest.raises(LinkExpired) as caught:
        read_token(SECRET, token, now=ISSUED + life + timedelta(seconds=1), lifetime=life)
    assert caught.value.claim.commitment == "boras.mbu.kommun"


def test_a_token_issued_in_the_future_is_not_valid_yet_and_says_from_when() -> None:
    token = make_token(SECRET, "boras.mbu.kommun", 2026, ISSUED + timedelta(days=1))
    with pytest.raises(LinkNotYetValid) as caught:
        read_token(SECRET, token, now=ISSUED)
    assert isinstance(caught.value, LinkInvalid)  # a caller that does not tell the reason refuses it all the same
    assert caught.value.issued == ISSUED + timedelta(days=1)
    assert read_token(SECRET, token, now=ISSUED + timedelta(days=1) - timedelta(minutes=4)).period == 2026  # skew


def test_the_lifetime_is_60_days_unless_configured() -> None:
    assert link_lifetime({}) == timedelta(days=60)
    assert link_lifetime({"SAMVERKAN_LINK_DAYS": "14"}) == timedelta(days=14)
    with pytest.raises(InvalidValue, match="SAMVERKAN_LINK_DAYS"):
        link_lifetime({"SAMVERKAN_LINK_DAYS": "-3"})


def row(kind: str, commitment: str | None = "boras.mbu.kommun", period: int | None = 2026) -> OutboxRow:
    return OutboxRow(kind=kind, commitment_id=commitment, period=period, send_at=ISSUED, key=f"{kind}:x")


def test_the_link_maker_links_reminders_overdue_notices_and_escalations_only() -> None:
    make = link_maker("https://samverkan.example", SECRET)
    for kind in ("reminder", "overdue", "escalation"):
        link = make(row(kind))
        assert link is not None
        claim = read_token(SECRET, link.rsplit("/", 1)[1], now=ISSUED)
        assert (claim.commitment, claim.period, claim.issued) == ("boras.mbu.kommun", 2026, ISSUED)
    assert make(row("deviation")) is None
    assert make(row("revision_kickoff", commitment=None, period=None)) is None


def test_the_same_notice_sent_again_carries_the_same_link() -> None:
    make = link_maker("https://samverkan.example", SECRET)
    assert make(row("reminder")) == make(row("reminder"))


def test_without_a_web_address_mail_over_smtp_has_no_link_but_local_mail_links_to_this_machine(
    boras_due: Engine,
) -> None:
    assert link_maker_for(boras_due, Settings(mailer="smtp")) is None
    local = link_maker_for(boras_due, Settings(mailer="file"))
    assert local is not None and str(local(row("reminder"))).startswith("http://127.0.0.1:8080/uppfoljning/")
    with pytest.raises(InvalidValue, match="base_url"):
        make_link(Settings(mailer="smtp"), SECRET, "boras.mbu.kommun", 2026, ISSUED)


def test_the_secret_is_made_once_and_kept_in_the_database(engine: Engine) -> None:
    first = load_secret(engine, environ={})
    assert load_secret(engine, environ={}) == first and len(first) >= 32
    from engine import db

    with db.transaction(engine) as s:
        assert s.scalars(select(WebSecret.name)).all() == ["signing"]


def test_samverkan_secret_from_the_environment_wins_and_must_be_long(engine: Engine) -> None:
    assert load_secret(engine, environ={"SAMVERKAN_SECRET": "k" * 40}) == "k" * 40
    with pytest.raises(InvalidValue, match="minst 32 tecken"):
        load_secret(engine, environ={"SAMVERKAN_SECRET": "kort"})


def test_a_link_stays_valid_after_the_server_restarts(boras_due: Engine, settings: Settings, kit: Any) -> None:
    secret = load_secret(boras_due, environ={})
    path = kit.link_path("boras.mbu.kommun", secret=secret)
    for _restart in range(2):
        with TestClient(create_app(boras_due, settings, FixedClock(kit.at(2027, 3, 2)))) as client:
            page = client.get(path)
            assert page.status_code == 200 and "Registrera uppföljningen" in page.text


def test_every_reminder_mail_carries_a_working_link(boras_due: Engine, smtp_server: Any, kit: Any) -> None:
    mail = smtp_server.settings("http://testserver")
    app = create_app(boras_due, mail, FixedClock(kit.at(2027, 3, 1, 9)))
    secret = load_secret(boras_due)
    report = deliver(boras_due, kit.ISSUED, mail, link=link_maker_for(boras_due, mail))
    assert report.sent == 28
    (mail,) = smtp_server.inbox.to("brab@boras.example")  # BråB's own four follow-ups, in one mail
    text, html = kit.body(mail), kit.body(mail, "html")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("* MBU"))
    link = next(line.split(": ", 1)[1].strip() for line in lines[start:] if "/uppfoljning/" in line)
    assert link in html and link.startswith("http://testserver/uppfoljning/")
    assert read_token(secret, link.rsplit("/", 1)[1], now=kit.ISSUED).commitment == "boras.mbu.kommun"
    with TestClient(app) as client:
        page = client.get(link)
    assert page.status_code == 200
    assert "Utbildning två gånger per år" in page.text  # the commitment's measure, in the form


# -- the recipient's own link: Mina uppföljningar ----------------------------------------------


def test_an_inbox_token_carries_the_address_lowercased_and_when_it_was_issued() -> None:
    token = make_inbox_token(SECRET, " KommunPolis@Polisen.Example", ISSUED)
    assert read_inbox_token(SECRET, token, now=ISSUED + timedelta(days=3)) == InboxClaim(
        "kommunpolis@polisen.example", ISSUED
    )
    assert token == make_inbox_token(SECRET, "kommunpolis@polisen.example", ISSUED)


def test_an_inbox_link_is_the_base_url_mina_and_the_token() -> None:
    link = make_inbox_link("https://samverkan.boras.example/", SECRET, "fritid@boras.example", ISSUED)
    assert link.startswith("https://samverkan.boras.example/mina/")
    assert read_inbox_token(SECRET, link.rsplit("/", 1)[1], now=ISSUED).email == "fritid@boras.example"
    with pytest.raises(InvalidValue, match="base_url"):
        make_inbox_link(Settings(mailer="smtp"), SECRET, "fritid@boras.example", ISSUED)


def test_a_follow_up_token_is_never_an_inbox_token_nor_the_other_way_round() -> None:
    follow_up = make_token(SECRET, "boras.mbu.kommun", 2026, ISSUED)
    inbox = make_inbox_token(SECRET, "brab@boras.example", ISSUED)
    with pytest.raises(LinkInvalid):
        read_inbox_token(SECRET, follow_up, now=ISSUED)
    with pytest.raises(LinkInvalid):
        read_token(SECRET, inbox, now=ISSUED)


@pytest.mark.parametrize(
    "alter",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t.replace(t.split(".")[0], make_inbox_token(SECRET, "mallory@example.org", ISSUED).split(".")[0]),
        lambda t: t[: len(t) // 2],
        lambda t: "inte-en-länk",
    ],
    ids=["signature", "payload-swapped", "truncated", "garbage"],
)
def test_an_altered_inbox_token_is_invalid(alter: Any) -> None:
    with pytest.raises(LinkInvalid):
        read_inbox_token(SECRET, alter(make_inbox_token(SECRET, "brab@boras.example", ISSUED)), now=ISSUED)


def test_an_inbox_token_of_another_secret_or_from_the_future_is_invalid() -> None:
    with pytest.raises(LinkInvalid):
        read_inbox_token(SECRET, make_inbox_token("another secret " * 3, "brab@boras.example", ISSUED), now=ISSUED)
    with pytest.raises(LinkInvalid):
        read_inbox_token(SECRET, make_inbox_token(SECRET, "brab@boras.example", ISSUED + timedelta(days=1)), now=ISSUED)
    # A few minutes ahead (another machine's clock) is accepted, as for a follow-up link.
    ahead = make_inbox_token(SECRET, "brab@boras.example", ISSUED + timedelta(minutes=4))
    assert read_inbox_token(SECRET, ahead, now=ISSUED).email == "brab@boras.example"


def test_an_inbox_token_expires_after_the_same_lifetime_and_says_whose_it_was() -> None:
    token = make_inbox_token(SECRET, "brab@boras.example", ISSUED)
    life = timedelta(days=60)
    assert read_inbox_token(SECRET, token, now=ISSUED + life, lifetime=life).email == "brab@boras.example"
    with pytest.raises(LinkExpired) as caught:
        read_inbox_token(SECRET, token, now=ISSUED + life + timedelta(seconds=1), lifetime=life)
    assert caught.value.claim == InboxClaim("brab@boras.example", ISSUED) and caught.value.issued == ISSUED
    with pytest.raises(LinkExpired) as follow_up:
        read_token(SECRET, make_token(SECRET, "boras.mbu.kommun", 2026, ISSUED), now=ISSUED + life * 2)
    assert follow_up.value.claim.commitment == "boras.mbu.kommun" and follow_up.value.issued == ISSUED


def test_the_inbox_link_maker_gives_a_resent_mail_the_same_link_and_each_address_its_own() -> None:
    make = inbox_link_maker("https://samverkan.example", SECRET)
    first = make("Fritid-Folkhalsa@boras.example", ISSUED)
    assert first is not None and first == make("fritid-folkhalsa@boras.example", ISSUED)
    assert first != make("brab@boras.example", ISSUED)
    claim = read_inbox_token(SECRET, first.rsplit("/", 1)[1], now=ISSUED)
    assert (claim.email, claim.issued) == ("fritid-folkhalsa@boras.example", ISSUED)


def test_without_a_web_address_smtp_mail_has_no_inbox_link_but_local_mail_links_to_this_machine(
    boras_due: Engine,
) -> None:
    assert inbox_link_maker_for(boras_due, Settings(mailer="smtp")) is None
    local = inbox_link_maker_for(boras_due, Settings(mailer="file"))
    assert local is not None
    link = str(local("brab@boras.example", ISSUED))
    assert link.startswith("http://127.0.0.1:8080/mina/")
    assert read_inbox_token(load_secret(boras_due), link.rsplit("/", 1)[1], now=ISSUED).email == "brab@boras.example"
    public = inbox_link_maker_for(boras_due, Settings(mailer="smtp", base_url="https://samverkan.boras.example/"))
    assert public is not None and str(public("brab@boras.example", ISSUED)).startswith(
        "https://samverkan.boras.example/mina/"
    )
