"""In a real browser: the whole revision in forms, from opening it to the new plan on the dashboard,
with axe-core's WCAG 2.1 AA rules on its pages; and a party contact and a unit contact refused.

Chromium and the fixtures as in tests/web/test_browser.py (tests/web/conftest.py).
"""

from __future__ import annotations

from typing import Any

from engine.clock import FixedClock

WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def _violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    return [v["id"] for v in Axe().run(page, options=WCAG_21_AA).response["violations"]]


def test_the_owner_revises_the_plan_in_forms_and_the_dashboard_shows_the_new_plan(
    live: Any, page: Any, clock: FixedClock, kit: Any
) -> None:
    from playwright.sync_api import expect

    clock.advance_to(kit.at(2027, 10, 1))
    kit.sign_in(page, live.url, kit.OWNER, kit.PASSWORD)
    page.goto(f"{live.url}/revision")
    page.click("button:has-text('Inled revidering 4 nu')")
    expect(page.locator(".flash")).to_contain_text("Revidering 4 är inledd")

    # Every commitment decided in the one form.
    rows = page.locator("#beslut tbody tr")
    expect(rows).to_have_count(28)
    for cid in [str(rows.nth(i).get_attribute("data-commitment")) for i in range(28)]:
        decision = "remove" if ".tobakstillsyn." in cid else "change" if ".mbu." in cid else "keep"
        page.select_option(f'[name="beslut:{cid}"]', decision)
        page.fill(
            f'[name="motivering:{cid}"]',
            "Tas bort: tillsynen sköts av länsstyrelsen." if decision == "remove" else "Fortsätter.",
        )
    page.locator("#beslut-rubrik").scroll_into_view_if_needed()
    kit.shot(page, "revision-form")
    page.click("button:has-text('Spara besluten')")
    expect(page.locator(".flash")).to_have_text("28 beslut sparade.")
    expect(page.locator("main")).to_contain_text("28 av 28 åtaganden har beslut")

    # One commitment edited, one effort added, the term changed.
    page.click('#insats-mbu a:has-text("Ändra")')
    expect(page.locator("h1")).to_contain_text("Ändra insatsen")
    assert violations_at_both_widths(page, kit) == []
    kit.shot(page, "revision-effort", full_page=True)
    page.fill("#f-commitments-kommun-text", "Finansiera och följa upp utbildningen.")
    page.fill("#f-measures-utbildningar-target", "3")
    page.click("button:has-text('Spara insatsen')")
    expect(page.locator(".flash")).to_contain_text("Insatsen mbu är ändrad")
    expect(page.locator("#insats-mbu .mark")).to_have_text("(ändrad)")

    page.click("a:has-text('Lägg till en insats')")
    assert violations_at_both_widths(page, kit) == []
    page.select_option("#f-area", "struktur")
    page.fill("#f-title", "Trygg natt")
    page.fill("#f-timeframe-text", "Varje helg")
    page.fill("#f-measure-text", "Antal nattvandringar")
    page.fill("#f-measure-target", "20")
    page.fill("#f-commitments-kommun-text", "Nattvandra med föreningar.")
    page.select_option("#f-commitments-kommun-responsible", "fritid-folkhalsa")
    page.click("button:has-text('Lägg till insatsen')")
    expect(page.locator("#insats-trygg-natt .mark")).to_have_text("(ny)")

    page.fill("#term-valid_to", "2030-12-31")
    page.fill("#term-every_years", "2")
    page.click("button:has-text('Spara giltighet och intervall')")
    expect(page.locator(".flash")).to_contain_text("Giltighetstiden och revideringsintervallet")
    assert violations_at_both_widths(page, kit) == []

    # The preview: the lines `samverkan plan diff` will show.
    diff = page.locator("#plandiff li")
    expect(diff).to_have_count(6)
    expect(page.locator("#plandiff")).to_contain_text("ny insats trygg-natt")
    expect(page.locator("#plandiff")).to_contain_text("insats tobakstillsyn borttagen")
    expect(page.locator("#plandiff")).to_contain_text("åtagande boras.mbu.kommun: texten ändrad")
    expect(page.locator("#plandiff")).to_contain_text("valid_to ändrat från null till 2030-12-31")
    page.locator("#granska").scroll_into_view_if_needed()
    kit.shot(page, "revision-preview")

    page.click("button:has-text('Anta den reviderade planen')")
    expect(page.locator(".flash")).to_contain_text("Revidering 4 genomförd: planversion 2 antagen.")
    expect(page.locator("main")).to_contain_text("Ingen revidering pågår")

    page.goto(f"{live.url}/")
    expect(page.locator("main")).to_contain_text("Trygg natt")
    expect(page.locator('li[data-commitment="boras.trygg-natt.kommun"]')).to_contain_text("planerad")
    expect(page.locator('li[data-commitment="boras.tobakstillsyn.kommun"]')).to_have_attribute("data-state", "avslutad")
    page.click('li[data-commitment="boras.mbu.kommun"] a')
    expect(page.locator("main")).to_contain_text("Finansiera och följa upp utbildningen.")


def violations_at_both_widths(page: Any, kit: Any) -> list[str]:
    found = []
    for viewport in kit.VIEWPORTS.values():
        page.set_viewport_size(viewport)
        found += _violations(page)
    page.set_viewport_size(kit.DESKTOP)
    return found


def test_a_party_contact_sees_the_revision_read_only_and_a_unit_contact_is_refused(
    live: Any, page: Any, clock: FixedClock, kit: Any
) -> None:
    from playwright.sync_api import expect

    clock.advance_to(kit.at(2027, 10, 1))
    kit.sign_in(page, live.url, kit.OWNER, kit.PASSWORD)
    page.goto(f"{live.url}/revision")
    page.click("button:has-text('Inled revidering 4 nu')")
    page.click("button:has-text('Logga ut')")

    kit.sign_in(page, live.url, kit.POLIS, kit.PASSWORD)
    page.goto(f"{live.url}/revision")
    expect(page.locator("h2", has_text="Den reviderade planen")).to_be_visible()
    expect(page.locator("#beslut tbody tr")).to_have_count(28)
    expect(page.locator("button:has-text('Spara besluten')")).to_have_count(0)
    expect(page.locator("button:has-text('Anta den reviderade planen')")).to_have_count(0)
    expect(page.locator("#insats-mbu a:has-text('Ändra')")).to_have_count(0)
    response = page.goto(f"{live.url}/revision/insats/mbu")
    assert response is not None and response.status == 403
    page.goto(f"{live.url}/")
    page.click("button:has-text('Logga ut')")

    kit.sign_in(page, live.url, kit.FRITID, kit.PASSWORD)
    response = page.goto(f"{live.url}/revision")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Ingen behörighet")
