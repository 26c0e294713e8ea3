"""The units page (/enheter): a process owner changes a unit's name or address in the browser.

The change is the next plan version exactly as an edited file loaded with ``init`` (same
document, hash and list of changes, so ``samverkan plan diff`` says the same), takes effect
at once for the notices not yet sent, and is listed with who made it.
"""

from __future__ import annotations

import html
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from engine import db
from engine.agreement import parse_agreement
from engine.api import commands, queries
from engine.clock import FixedClock
from engine.models import AgreementRow, OutboxRow, PlanVersion, UnitRow
from engine.plan import load_plan
from engine.tick import tick
from notifications.dispatcher import deliver
from notifications.settings import Settings
from rules.model import OutboxState, group_key
from tests.conftest import BORAS

OLD = "fritid-folkhalsa@boras.example"
NEW = "fritid.ny@boras.example"
OLD_NAME = "Fritids- och folkhälsoförvaltningen"
NEW_NAME = "Fritid och folkhälsa"
UNIT = "fritid-folkhalsa"


def _post(client: TestClient, kit: Any, **fields: str) -> Any:
    page = client.get("/enheter")
    data = {"csrf": kit.csrf_of(page.text), "overenskommelse": "boras-2015", "enhet": UNIT} | fields
    return client.post("/enheter/andra", data=data, follow_redirects=False)


def _unsent(engine: Engine) -> list[OutboxRow]:
    with db.transaction(engine) as s:
        rows = list(s.scalars(select(OutboxRow).where(OutboxRow.state.in_([OutboxState.PENDING, OutboxState.HELD]))))
        s.expunge_all()
        return rows


def _mail_to(folder: Path) -> list[str]:
    return [str(message_from_bytes(p.read_bytes(), policy=policy.default)["To"]) for p in sorted(folder.glob("*.eml"))]


def _versions(engine: Engine) -> list[tuple[int, str, dict[str, Any], list[Any]]]:
    with db.transaction(engine) as s:
        return [
            (v.version, v.config_hash, v.document, v.changes)
            for v in s.scalars(select(PlanVersion).order_by(PlanVersion.version))
        ]


def test_an_owner_changes_an_address_and_the_unsent_and_the_next_notices_go_to_it(
    client: TestClient, kit: Any, boras_due: Engine, settings: Settings, clock: FixedClock
) -> None:
    before = [r for r in _unsent(boras_due) if OLD in r.recipients]
    assert before, "the fixture queues reminders for the unit"
    kit.login(client, kit.OWNER)
    page = client.get("/enheter")
    assert page.status_code == 200 and OLD in page.text and 'href="/enheter" aria-current="page"' in page.text

    answer = _post(client, kit, namn=OLD_NAME, epost=NEW)
    assert answer.status_code == 303
    shown = html.unescape(client.get(answer.headers["location"]).text)
    assert "planversion 2" in shown and f"{len(before)} köade utskick går nu till {NEW}" in shown
    # The history: who, when, old → new.
    assert "Anna Andersson <anna.andersson@boras.example>" in shown
    assert f"<td>{OLD}</td><td>{NEW}</td>" in shown and "1 mars 2027 kl. 10:00" in shown

    after = _unsent(boras_due)
    assert not [r for r in after if OLD in r.recipients]
    moved = [r for r in after if NEW in r.recipients]
    assert {r.id for r in moved} == {r.id for r in before}
    assert all(r.group_key == group_key(r.kind, r.recipients) for r in moved)
    with db.transaction(boras_due) as s:
        assert s.scalar(select(UnitRow.email).where(UnitRow.id == UNIT)) == NEW
        assert s.scalar(select(PlanVersion.loaded_by).where(PlanVersion.version == 2)) == (
            "Anna Andersson <anna.andersson@boras.example>"
        )

    deliver(boras_due, clock.now(), settings)
    sent = _mail_to(settings.mail_dir)
    assert NEW in sent and OLD not in sent
    # The next reminder (a week before the deadline) is queued for the new address too.
    later = kit.at(2027, 3, 24, 9)
    assert tick(boras_due, later).notices > 0
    deliver(boras_due, later, settings)
    again = _mail_to(settings.mail_dir)
    assert again.count(NEW) > sent.count(NEW) and OLD not in again


def test_a_change_on_the_web_equals_the_same_change_in_the_file_loaded_with_init(
    client: TestClient, kit: Any, boras_due: Engine, tmp_path: Path
) -> None:
    kit.login(client, kit.OWNER)
    assert _post(client, kit, namn=NEW_NAME, epost=NEW).status_code == 303
    assert _post(client, kit, namn=NEW_NAME, epost=OLD).status_code == 303

    other = db.connect(f"sqlite:///{tmp_path / 'fil.db'}")
    db.upgrade(other)
    try:
        text = BORAS.read_text(encoding="utf-8")
        with db.transaction(other) as s:
            load_plan(s, parse_agreement(text, "boras.yaml"), now=kit.at(2026, 11, 24, 9))
        edited = text.replace(f"name: {OLD_NAME}\n", f"name: {NEW_NAME}\n", 1)
        assert edited != text
        # The same two edits of the file, each loaded as `samverkan init` loads it.
        for step in (edited.replace(OLD, NEW, 1), edited):
            commands.load_plan(other, parse_agreement(step, "boras.yaml"), now=kit.at(2027, 3, 1, 10))
        assert _versions(boras_due) == _versions(other)
        assert len(_versions(other)) == 3
        for v1, v2 in ((1, 2), (2, 3), (1, 3)):
            assert queries.plan_diff(boras_due, v1, v2) == queries.plan_diff(other, v1, v2)
        assert queries.plan_diff(boras_due, 1, 2) == (f"enhet {UNIT}: email, name ändrat",)
    finally:
        other.dispose()


def _nothing_written(engine: Engine) -> tuple[Any, ...]:
    with db.transaction(engine) as s:
        return (
            s.scalar(select(AgreementRow.plan_version)),
            s.scalar(select(func.count()).select_from(PlanVersion)),
            s.scalar(select(UnitRow.email).where(UnitRow.id == UNIT)),
            sorted((r.id, tuple(r.recipients)) for r in s.scalars(select(OutboxRow))),
        )


def test_a_bad_address_or_name_is_shown_beside_its_field_and_nothing_is_written(
    client: TestClient, kit: Any, boras_due: Engine
) -> None:
    kit.login(client, kit.OWNER)
    before = _nothing_written(boras_due)
    bad = _post(client, kit, namn=OLD_NAME, epost="inte en adress")
    assert bad.status_code == 400
    assert 'aria-describedby="epost-fritid-folkhalsa-fel"' in bad.text
    assert "ingen giltig e-postadress" in html.unescape(bad.text) and "Inget har sparats" in bad.text
    # The field keeps what was typed, so it can be corrected.
    assert 'value="inte en adress"' in bad.text

    both = _post(client, kit, namn="Fritid =?utf-8?q?Bcc?=", epost="")
    assert both.status_code == 400
    assert 'id="namn-fritid-folkhalsa-fel"' in both.text and 'id="epost-fritid-folkhalsa-fel"' in both.text
    assert "Ange enhetens e-postadress." in both.text and "rubrikfält" in html.unescape(both.text)

    empty = _post(client, kit, namn="   ", epost=NEW)
    assert empty.status_code == 400 and "Ange enhetens namn." in empty.text
    assert 'aria-describedby="namn-fritid-folkhalsa-fel"' in empty.text
    assert _nothing_written(boras_due) == before


def test_unit_and_party_users_get_403_and_a_forged_form_is_refused(
    client: TestClient, kit: Any, boras_due: Engine
) -> None:
    before = _nothing_written(boras_due)
    for who in (kit.FRITID, kit.POLIS):
        kit.login(client, who)
        assert client.get("/enheter").status_code == 403
        page = client.get("/")
        data = {"csrf": kit.csrf_of(page.text), "enhet": UNIT, "namn": OLD_NAME, "epost": NEW}
        assert client.post("/enheter/andra", data=data).status_code == 403
        assert 'href="/enheter"' not in page.text
        client.post("/logga-ut", data={"csrf": kit.csrf_of(page.text)})
    kit.login(client, kit.OWNER)
    forged = client.post("/enheter/andra", data={"csrf": "fel", "enhet": UNIT, "namn": OLD_NAME, "epost": NEW})
    assert forged.status_code == 403 and "Formuläret har gått ut" in forged.text
    assert _nothing_written(boras_due) == before


def test_an_owner_sets_a_units_contact_person_exactly_as_the_file_would_and_a_bad_one_is_refused(
    client: TestClient, kit: Any, boras_due: Engine, tmp_path: Path
) -> None:
    kit.login(client, kit.OWNER)
    before = _nothing_written(boras_due)
    bad = _post(client, kit, namn=OLD_NAME, epost=OLD, kontaktperson="Frida =?utf-8?q?Bcc?=")
    assert bad.status_code == 400 and 'aria-describedby="kontaktperson-fritid-folkhalsa-fel"' in bad.text
    assert "rubrikfält" in html.unescape(bad.text) and "Inget har sparats" in bad.text
    assert _nothing_written(boras_due) == before

    answer = _post(client, kit, namn=OLD_NAME, epost=OLD, kontaktperson=" Frida Fritid ")
    assert answer.status_code == 303
    shown = html.unescape(client.get(answer.headers["location"]).text)
    assert "planversion 2" in shown and "kontaktperson Frida Fritid" in shown
    assert "<td>kontaktperson</td><td>–</td><td>Frida Fritid</td>" in shown
    assert 'id="kontaktperson-fritid-folkhalsa" name="kontaktperson" value="Frida Fritid"' in shown
    # Emptied again: the key leaves the unit, as in a file without it.
    assert _post(client, kit, namn=OLD_NAME, epost=OLD, kontaktperson="").status_code == 303

    other = db.connect(f"sqlite:///{tmp_path / 'fil.db'}")
    db.upgrade(other)
    try:
        text = BORAS.read_text(encoding="utf-8")
        with db.transaction(other) as s:
            load_plan(s, parse_agreement(text, "boras.yaml"), now=kit.at(2026, 11, 24, 9))
        edited = text.replace(f"    email: {OLD}\n", f"    email: {OLD}\n    contact_name: Frida Fritid\n", 1)
        assert edited != text
        for step in (edited, text):
            commands.load_plan(other, parse_agreement(step, "boras.yaml"), now=kit.at(2027, 3, 1, 10))
        assert _versions(boras_due) == _versions(other)
        assert queries.plan_diff(boras_due, 1, 2) == queries.plan_diff(other, 1, 2)
    finally:
        other.dispose()


def test_in_the_browser_the_owner_changes_a_units_contact_person(live: Any, page: Any, kit: Any) -> None:
    from playwright.sync_api import expect

    kit.sign_in(page, live.url, kit.OWNER, kit.PASSWORD)
    page.goto(f"{live.url}/enheter")
    page.fill(f"#kontaktperson-{UNIT}", "Frida Fritid")
    page.click(f"section[aria-labelledby='enhet-{UNIT}'] button:has-text('Spara')")
    expect(page.locator(".flash")).to_contain_text("planversion 2")
    expect(page.locator(f"#kontaktperson-{UNIT}")).to_have_value("Frida Fritid")
    expect(page.locator("main")).to_contain_text("kontaktperson Frida Fritid")
    kit.shot(page, "units")


def test_in_the_browser_unit_and_party_users_are_refused_the_units_page_and_the_plan_file(
    live: Any, page: Any, kit: Any, boras_due: Engine
) -> None:
    for who in (kit.FRITID, kit.POLIS):
        page.context.clear_cookies()
        kit.sign_in(page, live.url, who, kit.PASSWORD)
        page.wait_for_selector("text=Logga ut")
        assert page.locator("a[href='/enheter']").count() == 0  # not offered in the menu either
        for path in ("/enheter", "/plan.yaml"):
            answer = page.goto(f"{live.url}{path}")
            assert answer is not None and answer.status == 403, (who, path)
            assert "Ingen behörighet" in page.content()
        page.goto(f"{live.url}/")
        csrf = page.locator("input[name=csrf]").first.get_attribute("value")
        posted = page.request.post(
            f"{live.url}/enheter/andra", form={"csrf": csrf, "enhet": UNIT, "epost": "ny@boras.example", "namn": "X"}
        )
        assert posted.status == 403
    assert [v[0] for v in _versions(boras_due)] == [1]  # nothing written
