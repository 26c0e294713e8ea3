"""Mina uppföljningar: one personal link lists every open follow-up of an address, across agreements,
and takes the reports one after another without another mail."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from engine import db
from engine.agreement import Agreement, load_agreement
from engine.clock import FixedClock
from engine.models import FollowUp
from engine.plan import load_plan
from engine.tick import tick
from notifications.links import make_inbox_token, make_token

POLICE = "kommunpolis@polisen.example"  # Borås's 14 running police commitments and Exempel's one
FRITID_FOLKHALSA = "fritid-folkhalsa@boras.example"
FRITIDS = {
    "boras.alkoholservering.kommun",
    "boras.bra-samordning.kommun",
    "boras.gym-dopning.kommun",
    "boras.rent-och-snyggt.kommun",
}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def two_agreements(boras_due: Engine, minimal: Agreement, kit: Any) -> Engine:
    """Borås as boras_due has it, and the small Exempel agreement, due 1 March, beside it."""
    with db.transaction(boras_due) as s:
        load_plan(s, minimal, now=kit.at(2026, 11, 24, 9))
    tick(boras_due, kit.ISSUED)
    return boras_due


def mine_path(email: str, kit: Any, issued: Any = None, secret: str | None = None) -> str:
    return "/mina/" + make_inbox_token(secret or kit.SECRET, email, issued or kit.ISSUED)


def listed(html: str) -> list[str]:
    return re.findall(r'<li class="card" data-commitment="([^"]+)"', html)


def form_links(html: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(r'<a class="button" href="([^"]+)"', html)]


def report(client: TestClient, href: str, kit: Any) -> Any:
    """Open the form behind ``href`` and send it: a count for each count measure, a text for each text one."""
    form = client.get(href)
    assert form.status_code == 200, form.text
    data = {"csrf": kit.csrf_of(form.text), "kommentar": "Enligt plan.", "namn": "Kim Kommunpolis"}
    data.update({name: "2" for name in re.findall(r'<input type="number"[^>]* name="(m_[^"]+)"', form.text)})
    data.update({name: "Gjort." for name in re.findall(r'<textarea id="[^"]+" name="(m_[^"]+)"', form.text)})
    return client.post(href, data=data, follow_redirects=False)


def test_a_recipient_sees_every_open_follow_up_in_every_agreement_the_earliest_first(
    client: TestClient, two_agreements: Engine, kit: Any
) -> None:
    page = client.get(mine_path(POLICE, kit))
    assert page.status_code == 200
    assert "<title>Mina uppföljningar – Samverkan</title>" in page.text and "<h1>Mina uppföljningar</h1>" in page.text
    shown = listed(page.text)
    assert len(shown) == 15 and len(set(shown)) == 15
    assert shown[0] == "exempel.vandringar.polis"  # due 1 March 2027: today
    assert all(c.startswith("boras.") and c.endswith(".polis") for c in shown[1:])
    assert "boras.trafik.polis" not in shown and "exempel.trafik.polis" not in shown  # ended
    assert "Samverkansöverenskommelse mellan Exempelstad" in page.text and "Borås" in page.text
    assert "Trygghetsvandringar" in page.text and "boras.mbu.kommun" not in shown  # BråB's, not the police's
    assert "senast i dag, 1 mars 2027" in page.text
    assert "Uppföljning 2026" in page.text and "senast 31 mars 2027 – om 30 dagar" in page.text
    assert len(form_links(page.text)) == 15
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"


def test_each_item_leads_to_the_ordinary_form_behind_a_fresh_follow_up_link(
    client: TestClient, two_agreements: Engine, kit: Any
) -> None:
    token = mine_path(POLICE, kit).rsplit("/", 1)[1]
    page = client.get(mine_path(POLICE, kit))
    first = form_links(page.text)[0]
    now = kit.at(2027, 3, 1, 10)
    assert first == "/uppfoljning/" + make_token(kit.SECRET, "exempel.vandringar.polis", 2026, now) + "?mina=" + token
    form = client.get(first)
    assert form.status_code == 200 and "Uppföljning 2026: Trygghetsvandringar" in form.text
    assert '<a href="/mina/' + token + '">Tillbaka till Mina uppföljningar</a>' in form.text
    assert f'action="{urlsplit(first).path}?mina={token}"' in form.text


def test_another_units_follow_ups_are_not_listed(client: TestClient, two_agreements: Engine, kit: Any) -> None:
    shown = listed(client.get(mine_path(FRITID_FOLKHALSA, kit)).text)
    assert set(shown) == FRITIDS and len(shown) == 4


def test_the_address_is_compared_without_case(
    client: TestClient, two_agreements: Engine, tmp_path: Path, kit: Any
) -> None:
    assert listed(client.get(mine_path("KommunPolis@Polisen.EXAMPLE", kit)).text) == listed(
        client.get(mine_path(POLICE, kit)).text
    )
    # An agreement file that spells the unit's address with capitals is listed for the lowercase link.
    text = (ROOT / "tests" / "data" / "liten.yaml").read_text(encoding="utf-8")
    capitals = tmp_path / "liten.yaml"
    capitals.write_text(text.replace("email: kommunpolis@polisen.example", "email: KommunPolis@polisen.example"))
    with db.transaction(two_agreements) as s:
        load_plan(s, load_agreement(capitals), now=kit.at(2026, 11, 24, 9))
    tick(two_agreements, kit.ISSUED)
    shown = listed(client.get(mine_path(POLICE, kit)).text)
    assert any(c.startswith("liten.") for c in shown) and len(shown) > 15


def test_nothing_open_gets_a_friendly_page(client: TestClient, boras_due: Engine, clock: FixedClock, kit: Any) -> None:
    page = client.get(mine_path("ingen@boras.example", kit))
    assert page.status_code == 200 and "Du har inga uppföljningar att lämna just nu." in page.text
    assert listed(page.text) == []
    # Before reporting for 2026 opens (1 January 2027) nothing is asked for yet.
    clock.current = kit.at(2026, 12, 1, 9)
    early = client.get(mine_path(POLICE, kit, issued=kit.at(2026, 12, 1, 8)))
    assert early.status_code == 200 and "Du har inga uppföljningar att lämna just nu." in early.text


def test_a_late_follow_up_says_how_late(client: TestClient, boras_due: Engine, clock: FixedClock, kit: Any) -> None:
    clock.advance_to(kit.at(2027, 4, 20))
    page = client.get(mine_path(FRITID_FOLKHALSA, kit))
    assert page.status_code == 200 and set(listed(page.text)) == FRITIDS
    assert "20 dagar sen – skulle ha lämnats senast 31 mars 2027" in page.text


# -- the token -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "alter",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t[: len(t) // 2],
        lambda t: "inte-en-länk",
    ],
    ids=["signature", "truncated", "garbage"],
)
def test_a_forged_or_altered_link_is_refused(client: TestClient, boras_due: Engine, kit: Any, alter: Any) -> None:
    token = mine_path(POLICE, kit).rsplit("/", 1)[1]
    page = client.get("/mina/" + alter(token))
    assert page.status_code == 404 and "Länken fungerar inte" in page.text
    assert "data-commitment" not in page.text and "Traceback" not in page.text


def test_a_link_signed_with_another_secret_or_issued_in_the_future_is_refused(
    client: TestClient, boras_due: Engine, kit: Any
) -> None:
    assert client.get(mine_path(POLICE, kit, secret="ett annat hemligt värde " * 2)).status_code == 404
    early = client.get(mine_path(POLICE, kit, issued=kit.at(2027, 3, 2, 8)))
    assert early.status_code == 403 and "Länken gäller från 2 mars 2027 kl. 08:00" in early.text
    assert "data-commitment" not in early.text


def test_a_follow_up_link_is_not_an_inbox_link_nor_the_other_way_round(
    client: TestClient, boras_due: Engine, kit: Any
) -> None:
    follow_up = make_token(kit.SECRET, "boras.mbu.polis", 2026, kit.ISSUED)
    assert client.get("/uppfoljning/" + follow_up).status_code == 200
    page = client.get("/mina/" + follow_up)
    assert page.status_code == 404 and "Länken fungerar inte" in page.text
    inbox = mine_path(POLICE, kit).rsplit("/", 1)[1]
    assert client.get("/uppfoljning/" + inbox).status_code == 404


def test_an_expired_link_says_whom_to_ask(
    client: TestClient, two_agreements: Engine, clock: FixedClock, kit: Any
) -> None:
    path = mine_path(POLICE, kit)
    issued = kit.ISSUED.astimezone(UTC)  # 60 days of elapsed time, across the change to summer time
    clock.advance_to(issued + timedelta(days=60))
    assert client.get(path).status_code == 200
    clock.advance_to(issued + timedelta(days=60, seconds=1))
    page = client.get(path)
    assert page.status_code == 410 and "Länken har gått ut" in page.text
    assert "brab@boras.example" in page.text and "bra@exempelstad.example" in page.text  # both process owners
    assert "data-commitment" not in page.text


# -- reporting one after another -------------------------------------------------------------


def test_a_report_from_the_list_leads_back_to_it_with_thanks_and_the_item_gone(
    client: TestClient, two_agreements: Engine, kit: Any
) -> None:
    path = mine_path(POLICE, kit)
    first, second = form_links(client.get(path).text)[:2]
    sent = report(client, first, kit)
    assert sent.status_code == 303 and sent.headers["location"] == path
    back = client.get(path)
    assert "Tack! Uppföljningen för 2026 av Trygghetsvandringar är registrerad." in back.text
    shown = listed(back.text)
    assert "exempel.vandringar.polis" not in shown and len(shown) == 14
    # That follow-up link no longer records: it corrects what was recorded (for the unit's window).
    assert "Rätta uppföljning 2026" in client.get(first).text
    # The next one at once, from the same list, without another mail.
    again = report(client, form_links(back.text)[0], kit)
    assert again.status_code == 303 and again.headers["location"] == path
    assert form_links(back.text)[0] == second  # the next one up (issued now, as the clock stands still)
    assert len(listed(client.get(path).text)) == 13
    with db.transaction(two_agreements) as s:
        by = set(s.scalars(select(FollowUp.by)))
    assert by == {"Kim Kommunpolis (kommunpolis@polisen.example, via länk i e-post)"}


@pytest.mark.parametrize(
    "mina",
    [
        "https://evil.example/",
        "//evil.example",
        "/mina/../logga-ut",
    ],
)
def test_a_mina_parameter_that_is_not_a_valid_inbox_token_is_ignored(
    client: TestClient, boras_due: Engine, kit: Any, mina: str
) -> None:
    href = kit.link_path("boras.mbu.polis") + "?mina=" + mina
    form = client.get(href)
    assert "Tillbaka till Mina uppföljningar" not in form.text and "evil" not in form.text
    sent = report(client, href, kit)
    assert sent.status_code == 303 and sent.headers["location"] == kit.link_path("boras.mbu.polis") + "?klar=1"


def test_another_addresss_inbox_token_does_not_lead_back(client: TestClient, boras_due: Engine, kit: Any) -> None:
    someone_else = mine_path(FRITID_FOLKHALSA, kit).rsplit("/", 1)[1]
    href = kit.link_path("boras.mbu.polis") + "?mina=" + someone_else
    assert "Tillbaka till Mina uppföljningar" not in client.get(href).text
    assert report(client, href, kit).headers["location"].endswith("?klar=1")


def test_an_expired_inbox_token_does_not_lead_back(
    client: TestClient, boras_due: Engine, clock: FixedClock, kit: Any
) -> None:
    clock.advance_to(kit.at(2027, 3, 20))
    old = mine_path(POLICE, kit, issued=kit.at(2027, 1, 10)).rsplit("/", 1)[1]  # 69 days
    href = kit.link_path("boras.mbu.polis") + "?mina=" + old
    assert "Tillbaka till Mina uppföljningar" not in client.get(href).text
