"""Correcting a recorded follow-up on the web: the process owner at any time on the commitment page,
the unit that reported through its link (or signed in) for ``correction_days`` after recording.

A correction is the next version of the period's follow-up; the earlier one is kept and shown in
the commitment's history. A refusal (another unit's or party's commitment, the window over, a
version changed meanwhile, a bad value) is a Swedish message and writes nothing.
"""

from __future__ import annotations

import html
from typing import Any

import httpx2 as httpx
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from engine import db
from engine.api import commands
from engine.clock import FixedClock
from engine.models import FollowUp, OutboxRow, TransitionRecord

BRA = "boras.bra-samordning.kommun"  # Fritids- och folkhälsoförvaltningen's: a count and a text measure
MBU = "boras.mbu.kommun"  # another unit's (one count measure, target 2)
CORRECT_BRA = f"/atagande/{BRA}/ratta/2026"
FIELDS = {"m_antal-moten": "12", "m_representation": "Alla lokala BRÅ", "kommentar": "Enligt plan.", "timmar": "40"}


def versions(engine: Engine, commitment: str = BRA) -> list[tuple[int, dict[str, Any], str, str]]:
    with db.transaction(engine) as s:
        rows = s.scalars(select(FollowUp).where(FollowUp.commitment_id == commitment).order_by(FollowUp.version))
        return [(f.version, dict(f.values), f.comment, f.by) for f in rows]


def written(engine: Engine) -> tuple[int, int, int]:
    with db.transaction(engine) as s:
        return (
            len(s.scalars(select(FollowUp)).all()),
            len(s.scalars(select(TransitionRecord)).all()),
            len(s.scalars(select(OutboxRow)).all()),
        )


def record_bra(engine: Engine, kit: Any, by: str = "Frida Fritid") -> None:
    commands.record_follow_up(
        engine,
        BRA,
        period=2026,
        values={"antal-moten": 10, "representation": "Centrala BRÅ"},
        comment="Mötena har hållits.",
        by=by,
        now=kit.at(2027, 3, 1, 10),
        hours=30,
    )


def test_the_owner_corrects_a_follow_up_and_the_earlier_version_stays_in_the_history(
    client: TestClient, boras_due: Engine, clock: FixedClock, kit: Any
) -> None:
    record_bra(boras_due, kit)
    clock.advance_to(kit.at(2027, 9, 1))  # long after the unit's window: the owner corrects at any time
    kit.login(client, kit.OWNER)
    shown = client.get(f"/atagande/{BRA}")
    assert f'href="{CORRECT_BRA}"' in shown.text
    form = client.get(CORRECT_BRA)
    assert form.status_code == 200 and "Rätta uppföljning 2026" in form.text
    # Prefilled with what is recorded, and naming the version it corrects.
    assert 'value="10"' in form.text and "Centrala BRÅ</textarea>" in form.text and 'value="30"' in form.text
    assert 'name="version" value="1"' in form.text and "blir version 2" in form.text

    data = {"csrf": kit.csrf_of(form.text), "version": "1"} | FIELDS
    sent = client.post(CORRECT_BRA, data=data, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == f"/atagande/{BRA}"
    page = html.unescape(client.get(f"/atagande/{BRA}").text)
    assert "Uppföljningen för 2026 är rättad: version 2." in page
    assert "(rättad, version 2)" in page and "Tidigare versioner" in page
    assert "Antal möten: 10; Representation under mötena: Centrala BRÅ; 30 timmar" in page  # version 1, kept
    assert "version 1 → 2" in page and "rättelse av uppföljning 2026" in page
    assert "1 september 2027 kl. 10:00" in page and "Anna Andersson <anna.andersson@boras.example>" in page
    assert versions(boras_due) == [
        (1, {"antal-moten": 10, "representation": "Centrala BRÅ"}, "Mötena har hållits.", "Frida Fritid"),
        (
            2,
            {"antal-moten": 12, "representation": "Alla lokala BRÅ"},
            "Enligt plan.",
            "Anna Andersson <anna.andersson@boras.example>",
        ),
    ]

    # The same form sent again names version 1, which is no longer the latest: refused, nothing written.
    before = written(boras_due)
    again = client.post(CORRECT_BRA, data=data)
    assert again.status_code == 400 and "har ändrats sedan formuläret öppnades (nu version 2)" in again.text
    assert written(boras_due) == before


def test_the_unit_corrects_through_its_link_until_the_window_ends_then_only_the_owner_can(
    client: TestClient, boras_due: Engine, clock: FixedClock, kit: Any
) -> None:
    path = kit.link_path(BRA)
    first = client.get(path)
    data = {"csrf": kit.csrf_of(first.text), "namn": "Frida Fritid"} | FIELDS
    sent = client.post(path, data=data, follow_redirects=False)
    assert sent.status_code == 303
    receipt = html.unescape(client.get(sent.headers["location"]).text)
    # Recorded 1 March at 10:00 in Stockholm with 14 days: the unit may correct it through 15 March.
    assert "via samma länk i e-postmeddelandet till och med <strong>15 mars 2027</strong>" in receipt
    assert "kontakta Brottsförebyggande rådet i Borås (BråB) (brab@boras.example)" in receipt

    clock.advance_to(kit.at(2027, 3, 15, 23, 30))
    form = client.get(path)
    assert form.status_code == 200 and "Rätta uppföljning 2026" in form.text
    assert 'value="12"' in form.text and "till och med <strong>15 mars 2027</strong>" in form.text
    fix = {"csrf": kit.csrf_of(form.text), "version": "1", "namn": "Frida Fritid"} | FIELDS | {"m_antal-moten": "13"}
    done = client.post(path, data=fix, follow_redirects=False)
    assert done.status_code == 303
    thanks = client.get(done.headers["location"])
    assert "Tack! Rättelsen av uppföljningen för 2026 är sparad" in thanks.text and "version 2" in thanks.text
    assert [(v, values["antal-moten"], by) for v, values, _, by in versions(boras_due)] == [
        (1, 12, "Frida Fritid (fritid-folkhalsa@boras.example, via länk i e-post)"),
        (2, 13, "Frida Fritid (fritid-folkhalsa@boras.example, via länk i e-post)"),
    ]

    clock.advance_to(kit.at(2027, 3, 16, 0, 1))  # the 16th in Stockholm (still the 15th in UTC)
    before = written(boras_due)
    late = client.get(path)
    assert late.status_code == 410 and "Uppföljningen är redan registrerad" in late.text
    assert "kontakta processägaren, Brottsförebyggande rådet i Borås (BråB) (brab@boras.example)" in html.unescape(
        late.text
    )
    posted = client.post(path, data=fix | {"version": "2"})
    assert posted.status_code == 410 and "Inget har sparats" in posted.text
    assert written(boras_due) == before


def test_a_signed_in_unit_is_told_until_when_it_may_correct_and_is_refused_after(
    client: TestClient, boras_due: Engine, clock: FixedClock, kit: Any
) -> None:
    kit.login(client, kit.FRITID)
    form = client.get(f"/atagande/{BRA}/uppfoljning")
    data = {"csrf": kit.csrf_of(form.text)} | FIELDS
    page = html.unescape(client.post(f"/atagande/{BRA}/uppfoljning", data=data).text)  # the commitment page
    assert "Du kan rätta den här på åtagandets sida till och med 15 mars 2027" in page
    assert f'href="{CORRECT_BRA}"' in page

    clock.advance_to(kit.at(2027, 3, 16))
    before = written(boras_due)
    assert f'href="{CORRECT_BRA}"' not in client.get(f"/atagande/{BRA}").text
    refused = client.get(CORRECT_BRA)
    assert refused.status_code == 403 and "kunde rättas av enheten till och med 15 mars 2027" in refused.text
    posted = client.post(CORRECT_BRA, data={"csrf": kit.csrf_of(page), "version": "1"} | FIELDS)
    assert posted.status_code == 403 and "Inget har sparats" in posted.text
    assert written(boras_due) == before


def test_another_units_and_the_other_partys_contacts_are_refused_and_nothing_is_written(
    client: TestClient, boras_due: Engine, kit: Any
) -> None:
    record_bra(boras_due, kit)
    before = written(boras_due)
    kit.login(client, kit.TEKNISKA)  # another unit: may not even see it
    page = client.get("/")
    assert client.get(CORRECT_BRA).status_code == 403
    posted = client.post(CORRECT_BRA, data={"csrf": kit.csrf_of(page.text), "version": "1"} | FIELDS)
    assert posted.status_code == 403 and "Ingen behörighet" in posted.text
    client.post("/logga-ut", data={"csrf": kit.csrf_of(page.text)})

    kit.login(client, kit.POLIS)  # the police's contact sees the kommun's commitment, may not correct it
    page = client.get(f"/atagande/{BRA}")
    assert page.status_code == 200 and f'href="{CORRECT_BRA}"' not in page.text
    refused = client.get(CORRECT_BRA)
    assert refused.status_code == 403 and "som du själv får registrera" in refused.text
    posted = client.post(CORRECT_BRA, data={"csrf": kit.csrf_of(page.text), "version": "1"} | FIELDS)
    assert posted.status_code == 403
    assert written(boras_due) == before


def test_a_bad_value_in_a_correction_is_shown_beside_its_field_and_nothing_is_written(
    client: TestClient, boras_due: Engine, kit: Any
) -> None:
    record_bra(boras_due, kit)
    kit.login(client, kit.OWNER)
    form = client.get(CORRECT_BRA)
    before = written(boras_due)
    data = {"csrf": kit.csrf_of(form.text), "version": "1"} | FIELDS | {"m_antal-moten": "tolv", "kommentar": ""}
    bad = client.post(CORRECT_BRA, data=data)
    assert bad.status_code == 400 and 'aria-describedby="m_antal-moten-fel"' in bad.text
    assert "Ange ett heltal, 0 eller större." in bad.text and 'aria-describedby="kommentar-fel"' in bad.text
    assert 'value="tolv"' in bad.text  # what was typed is kept
    assert written(boras_due) == before
    assert (
        client.get(f"/atagande/{BRA}/ratta/2025", follow_redirects=False).status_code == 303
    )  # nothing recorded for 2025


def test_mina_uppfoljningar_lists_what_the_recipient_may_still_correct(
    client: TestClient, boras_due: Engine, clock: FixedClock, kit: Any
) -> None:
    from notifications.links import make_inbox_token

    record_bra(boras_due, kit)
    path = "/mina/" + make_inbox_token(kit.SECRET, "fritid-folkhalsa@boras.example", kit.ISSUED)
    page = html.unescape(client.get(path).text)
    assert f'data-correctable="{BRA}"' in page and "Kan rättas till och med 15 mars 2027" in page
    link = page.split(f'data-correctable="{BRA}"', 1)[1].split('href="', 1)[1].split('"', 1)[0]
    form = client.get(link)
    assert "Rätta uppföljning 2026" in form.text and "Tillbaka till Mina uppföljningar" in form.text
    fix = {"csrf": kit.csrf_of(form.text), "version": "1", "namn": "Frida Fritid"} | FIELDS
    back = client.post(link, data=fix, follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == path
    assert "Tack! Rättelsen av uppföljningen för 2026" in html.unescape(client.get(path).text)
    clock.advance_to(kit.at(2027, 3, 16))
    assert f'data-correctable="{BRA}"' not in client.get(path).text


def test_over_the_real_server_a_link_correction_is_refused_after_the_window(
    boras_due: Engine, live: Any, clock: FixedClock, kit: Any
) -> None:
    record_bra(boras_due, kit)
    with httpx.Client(base_url=live.url) as c:
        form = c.get(kit.link_path(BRA))
        assert form.status_code == 200 and "Rätta uppföljning 2026" in form.text
        clock.advance_to(kit.at(2027, 3, 16))
        data = {"csrf": kit.csrf_of(form.text), "version": "1", "namn": "Frida"} | FIELDS
        late = c.post(kit.link_path(BRA), data=data)
    assert late.status_code == 410 and "Inget har sparats" in late.text
    assert len(versions(boras_due)) == 1


# -- in the browser ----------------------------------------------------------------------------


def test_in_the_browser_the_owner_corrects_on_the_commitment_page(
    boras_due: Engine, live: Any, page: Any, kit: Any
) -> None:
    from playwright.sync_api import expect

    record_bra(boras_due, kit)
    kit.sign_in(page, live.url, kit.OWNER, kit.PASSWORD)
    page.goto(f"{live.url}/atagande/{BRA}")
    page.click("a.button:has-text('Rätta')")
    expect(page.locator("h1")).to_contain_text("Rätta uppföljning 2026")
    expect(page.locator("#m_antal-moten")).to_have_value("10")
    page.fill("#m_antal-moten", "11")
    page.fill("#kommentar", "Ett möte till hölls i december.")
    kit.shot(page, "correction-form", full_page=True)
    page.click("button:has-text('Spara rättelsen')")
    expect(page.locator(".flash")).to_contain_text("Uppföljningen för 2026 är rättad: version 2")
    card = page.locator('section[data-period="2026"]')
    expect(card.locator("h3")).to_contain_text("rättad, version 2")
    expect(card).to_contain_text("Ett möte till hölls i december.")
    expect(card.locator('tr[data-version="1"]')).to_contain_text("Mötena har hållits.")
    expect(page.locator("main")).to_contain_text("version 1 → 2")


def test_in_the_browser_the_unit_corrects_its_report_through_its_link(live: Any, page: Any, kit: Any) -> None:
    from playwright.sync_api import expect

    link = live.url + kit.link_path(BRA)
    page.set_viewport_size(kit.PHONE)
    page.goto(link)
    page.fill("#m_antal-moten", "12")
    page.fill("#m_representation", "Centrala BRÅ")
    page.fill("#kommentar", "Mötena har hållits.")
    page.fill("#namn", "Frida Fritid")
    page.click("button:has-text('Registrera uppföljningen')")
    expect(page.locator("#rattelse")).to_contain_text("via samma länk i e-postmeddelandet till och med 15 mars 2027")

    page.goto(link)  # the same link again, the same day
    expect(page.locator("h1")).to_contain_text("Rätta uppföljning 2026")
    expect(page.locator("#m_antal-moten")).to_have_value("12")
    page.fill("#m_antal-moten", "14")
    page.fill("#namn", "Frida Fritid")
    page.click("button:has-text('Spara rättelsen')")
    expect(page.locator("h1")).to_have_text("Tack! Rättelsen av uppföljningen för 2026 är sparad")
    expect(page.locator("main")).to_contain_text("14")


def test_in_the_browser_the_other_partys_contact_is_refused_a_correction(
    boras_due: Engine, live: Any, page: Any, kit: Any
) -> None:
    from playwright.sync_api import expect

    record_bra(boras_due, kit)
    kit.sign_in(page, live.url, kit.POLIS, kit.PASSWORD)
    page.goto(f"{live.url}/atagande/{BRA}")
    expect(page.locator("a.button:has-text('Rätta')")).to_have_count(0)
    response = page.goto(f"{live.url}{CORRECT_BRA}")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Uppföljningen kan inte rättas här")
    assert len(versions(boras_due)) == 1
