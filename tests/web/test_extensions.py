"""Extensions (anstånd) and "Påminn nu" on the web: the process owner acts on a late follow-up.

On 20 April 2027 the 2026 reports (due 31 March) are late; the owner gives one commitment
until 30 April, or reminds one unit now.
"""

from __future__ import annotations

import html
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from engine import db
from engine.clock import FixedClock
from engine.models import DueExtension, OutboxRow
from notifications.dispatcher import deliver
from notifications.settings import Settings

MBU = "boras.mbu.kommun"


@pytest.fixture(autouse=True)
def _late(clock: FixedClock, kit: Any) -> None:
    clock.advance_to(kit.at(2027, 4, 20))


def _extend(client: TestClient, kit: Any, commitment: str = MBU, **fields: str) -> Any:
    form = client.get(f"/atagande/{commitment}/anstand")
    data = {"csrf": kit.csrf_of(form.text), "period": "2026", "datum": "2027-04-30", "anledning": "Ny chef"} | fields
    return client.post(f"/atagande/{commitment}/anstand", data=data, follow_redirects=False)


def _remind(client: TestClient, kit: Any, **fields: str) -> Any:
    page = client.get("/forsenat")
    return client.post("/forsenat/paminn", data={"csrf": kit.csrf_of(page.text)} | fields, follow_redirects=False)


def _count(engine: Engine, table: Any, *where: Any) -> int:
    with db.transaction(engine) as s:
        return int(s.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def test_an_owner_grants_an_extension_and_the_commitment_and_the_review_follow_it(client: TestClient, kit: Any) -> None:
    kit.login(client, kit.OWNER)
    overdue = client.get("/forsenat").text
    assert f'href="/atagande/{MBU}/anstand"' in overdue and f'href="/atagande/{MBU}"' in overdue
    answer = _extend(client, kit)
    assert (answer.status_code, answer.headers["location"]) == (303, f"/atagande/{MBU}")
    shown = html.unescape(client.get(f"/atagande/{MBU}").text)
    assert "Anstånd för 2026: sista dag 31 mars 2027 → 30 april 2027." in shown
    assert "Uppföljning 2026 senast 30 april 2027 (anstånd)" in shown
    assert "<td>Ny chef</td><td>Anna Andersson <anna.andersson@boras.example></td>" in shown
    assert f'data-commitment="{MBU}"' not in client.get("/forsenat").text


def test_a_second_extension_replaces_the_first_and_both_are_listed(client: TestClient, kit: Any) -> None:
    kit.login(client, kit.OWNER)
    _extend(client, kit)
    assert _extend(client, kit, datum="2027-05-14", anledning="Mer tid").status_code == 303
    shown = html.unescape(client.get(f"/atagande/{MBU}/anstand").text)
    assert (
        "30 april 2027 → 14 maj 2027" in shown
        and '31 mars 2027 → 30 april 2027 <span class="muted">(ersatt)</span>' in shown
    )


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"datum": "2027-03-20"}, "datum", "Den nya sista dagen måste vara efter den ordinarie, 31 mars 2027."),
        ({"datum": "2027-04-19"}, "datum", "Den nya sista dagen kan inte vara före i dag, 20 april 2027."),
        ({"datum": ""}, "datum", "Ange den nya sista dagen som ett datum (ÅÅÅÅ-MM-DD)."),
        ({"anledning": " "}, "anledning", "Ange varför anståndet ges."),
    ],
)
def test_a_refused_extension_says_why_beside_the_field_and_writes_nothing(
    client: TestClient, kit: Any, boras_due: Engine, fields: dict[str, str], field: str, text: str
) -> None:
    kit.login(client, kit.OWNER)
    answer = _extend(client, kit, **fields)
    assert answer.status_code == 400
    shown = html.unescape(answer.text)
    assert f'aria-describedby="{field}-fel"' in shown and f'<p class="field-error" id="{field}-fel">{text}</p>' in shown
    assert _count(boras_due, DueExtension) == 0


def test_remind_now_queues_one_reminder_a_day_and_the_dispatcher_sends_it(
    client: TestClient, kit: Any, boras_due: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    kit.login(client, kit.OWNER)
    manual = OutboxRow.key.like("%:manual:%")
    answer = _remind(client, kit, atagande=MBU)
    assert answer.status_code == 303 and answer.headers["location"] == "/forsenat"
    shown = html.unescape(client.get("/forsenat").text)
    assert "Påminnelse om en försenad uppföljning köad till " in shown
    again = html.unescape(client.get(_remind(client, kit, atagande=MBU).headers["location"]).text)
    assert "har redan påmints i dag om den försenade uppföljningen; ingen ny påminnelse köades för den." in again
    assert _count(boras_due, OutboxRow, manual) == 1
    deliver(boras_due, clock.now(), settings)
    with db.transaction(boras_due) as s:
        row = s.scalars(select(OutboxRow).where(manual)).one()
        assert (row.key, row.state) == (f"overdue:{MBU}:2026:manual:2027-04-20", "sent")
        to = row.recipients[0]
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in (tmp_path / "outbox").glob("*.eml")]
    assert any(to in str(m["To"]) for m in mails)


def test_remind_now_for_a_unit_reminds_each_of_its_late_follow_ups(
    client: TestClient, kit: Any, boras_due: Engine
) -> None:
    kit.login(client, kit.OWNER)
    page = client.get("/forsenat").text
    assert "Påminn alla hos Kommunpolis, lokalpolisområde Borås (" in html.unescape(page)
    answer = _remind(client, kit, overenskommelse="boras", enhet="kommunpolis")
    assert answer.status_code == 303
    late = _count(boras_due, OutboxRow, OutboxRow.key.like("%:manual:%"))
    assert late > 1 and f"Påminnelse om {late} försenade uppföljningar köad till" in html.unescape(
        client.get("/forsenat").text
    )


def test_remind_now_refuses_a_follow_up_that_is_not_late(client: TestClient, kit: Any, boras_due: Engine) -> None:
    kit.login(client, kit.OWNER)
    _extend(client, kit)
    answer = _remind(client, kit, atagande=MBU)
    assert answer.status_code == 400
    assert f"Uppföljningen av {MBU} är inte försenad; ingen påminnelse skickades. Inget köades." in answer.text
    assert _count(boras_due, OutboxRow, OutboxRow.key.like("%:manual:%")) == 0


@pytest.mark.parametrize("who", ["POLIS", "FRITID"])
def test_party_and_unit_users_may_neither_extend_nor_remind(
    client: TestClient, kit: Any, boras_due: Engine, who: str
) -> None:
    kit.login(client, kit.OWNER)
    token = kit.csrf_of(client.get("/forsenat").text)
    client.post("/logga-ut", data={"csrf": token})
    kit.login(client, getattr(kit, who))
    own = kit.csrf_of(client.get("/").text)
    assert client.get(f"/atagande/{MBU}/anstand").status_code == 403
    data = {"csrf": own, "period": "2026", "datum": "2027-04-30", "anledning": "x"}
    assert client.post(f"/atagande/{MBU}/anstand", data=data).status_code == 403
    assert client.post("/forsenat/paminn", data={"csrf": own, "atagande": MBU}).status_code == 403
    assert _count(boras_due, DueExtension) == 0
    assert _count(boras_due, OutboxRow, OutboxRow.key.like("%:manual:%")) == 0
    if who == "POLIS":  # a party sees the review, without the owner's actions
        page = client.get("/forsenat").text
        assert "Påminn nu" not in page and "/anstand" not in page


# -- in the browser ---------------------------------------------------------------------------


def test_browser_an_owner_grants_an_extension_from_the_overdue_review(live: Any, page: Any, kit: Any) -> None:
    from playwright.sync_api import expect

    kit.sign_in(page, live.url, kit.OWNER, kit.PASSWORD)
    page.goto(f"{live.url}/forsenat")
    page.locator(f'tr[data-commitment="{MBU}"] a:has-text("Ge anstånd")').click()
    expect(page.locator("h1")).to_contain_text("Anstånd för")
    page.fill("#datum", "2027-04-10")
    page.fill("#anledning", "Ny förvaltningschef")
    page.click("button:has-text('Ge anstånd')")
    expect(page.locator("#datum-fel")).to_have_text("Den nya sista dagen kan inte vara före i dag, 20 april 2027.")
    expect(page.locator("#datum")).to_have_attribute("aria-describedby", "datum-fel")
    page.fill("#datum", "2027-04-30")
    kit.shot(page, "extension-form", full_page=True)
    page.click("button:has-text('Ge anstånd')")
    expect(page).to_have_url(f"{live.url}/atagande/{MBU}")
    expect(page.locator("[role=status]")).to_contain_text("31 mars 2027 → 30 april 2027")
    expect(page.locator("main")).to_contain_text("senast 30 april 2027 (anstånd)")
    expect(page.locator("#anstand tbody tr")).to_contain_text("Ny förvaltningschef")
    page.goto(f"{live.url}/forsenat")
    expect(page.locator(f'tr[data-commitment="{MBU}"]')).to_have_count(0)


def test_browser_an_owner_reminds_one_unit_now_and_a_second_click_queues_nothing(
    live: Any, page: Any, kit: Any, boras_due: Engine
) -> None:
    from playwright.sync_api import expect

    kit.sign_in(page, live.url, kit.OWNER, kit.PASSWORD)
    page.goto(f"{live.url}/forsenat")
    button = page.locator("#paminn-enheter button:has-text('Kommunpolis')")
    button.click()
    expect(page.locator("[role=status]")).to_contain_text("försenade uppföljningar köad till Kommunpolis")
    kit.shot(page, "overdue-reminded")
    page.locator("#paminn-enheter button:has-text('Kommunpolis')").click()
    expect(page.locator("[role=status]")).to_contain_text("har redan påmints i dag")
    queued = _count(boras_due, OutboxRow, OutboxRow.key.like("%:manual:%"))
    page.locator(f'tr[data-commitment="{MBU}"] button:has-text("Påminn nu")').click()
    expect(page.locator("[role=status]")).to_contain_text("Påminnelse om en försenad uppföljning köad")
    assert _count(boras_due, OutboxRow, OutboxRow.key.like("%:manual:%")) == queued + 1


def test_browser_a_party_user_sees_the_review_without_actions_and_is_refused_the_form(
    live: Any, page: Any, kit: Any
) -> None:
    from playwright.sync_api import expect

    kit.sign_in(page, live.url, kit.POLIS, kit.PASSWORD)
    page.goto(f"{live.url}/forsenat")
    expect(page.locator("#forsenade tbody tr").first).to_be_visible()
    expect(page.locator("button:has-text('Påminn')")).to_have_count(0)
    answer = page.goto(f"{live.url}/atagande/{MBU}/anstand")
    assert answer is not None and answer.status == 403
    expect(page.locator("h1")).to_have_text("Ingen behörighet")
