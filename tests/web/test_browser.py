"""In a real browser: from a reminder mail to a recorded follow-up, the owner's review, a unit refused,
two follow-ups reported in a row from Mina uppföljningar, and axe-core's WCAG 2.1 AA rules on every page.

Debian's Chromium (``apt-get install chromium``) driven by Playwright for Python; Playwright's
own browser download is never used. Without /usr/bin/chromium these tests skip with the
reason, unless SAMVERKAN_REQUIRE_BROWSER=1, which makes that a failure. Screenshots go to
tmp/artifacts/ (or SAMVERKAN_ARTIFACTS); docs/screenshots/ holds copies of some of them.
The browser, ``page`` and ``live`` fixtures are in tests/web/conftest.py.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine

from engine.api import commands, commands_users
from engine.clock import FixedClock
from notifications.dispatcher import deliver
from notifications.links import link_maker, make_inbox_link, make_inbox_token, make_invite_token, make_token

FRITIDS_OWN = "boras.bra-samordning.kommun"


def item_link(text: str, effort: str) -> str:
    """The button's link of the grouped mail's item for ``effort``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"* {effort}"))
    return next(line.split(": ", 1)[1].strip() for line in lines[start:] if "/uppfoljning/" in line)


def test_from_the_reminder_mail_through_the_form_to_the_dashboard(
    boras_due: Engine, live: Any, page: Any, smtp_server: Any, kit: Any
) -> None:
    from playwright.sync_api import expect

    # The reminders of 1 March go out by SMTP to aiosmtpd on 127.0.0.1, each with its link.
    # (In a thread: the dispatcher runs its own event loop, Playwright's sync API holds this one.)
    with ThreadPoolExecutor(1) as pool:
        report = pool.submit(
            deliver, boras_due, kit.ISSUED, smtp_server.settings(live.url), link=link_maker(live.url, kit.SECRET)
        ).result()
    assert (report.sent, report.messages) == (28, 8)
    (mail,) = smtp_server.inbox.to("fritid-folkhalsa@boras.example")  # its four follow-ups in one mail
    link = item_link(kit.body(mail), "Samordning av det brottsförebyggande arbetet")
    assert link.startswith(live.url + "/uppfoljning/")

    page.set_viewport_size(kit.PHONE)  # opened on a phone, from the mail
    page.goto(link)
    expect(page.locator("h1")).to_contain_text("Uppföljning 2026: Samordning av det brottsförebyggande arbetet")
    page.fill("#m_antal-moten", "12")
    page.fill("#m_representation", "Centrala BRÅ och de tre lokala BRÅ; kommunpolisen vid alla möten")
    page.fill("#kommentar", "Mötena har hållits enligt plan. Uppslutningen från skolan kan bli bättre.")
    page.fill("#timmar", "40")
    page.fill("#namn", "Frida Fritid")
    kit.shot(page, "followup-form", full_page=True)
    page.click("button:has-text('Registrera uppföljningen')")
    expect(page.locator("h1")).to_have_text("Tack! Uppföljningen för 2026 är registrerad")
    expect(page.locator("main")).to_contain_text("uppföljd")

    page.goto(link)  # the link no longer records; for the unit's correction window it corrects
    expect(page.locator("h1")).to_contain_text("Rätta uppföljning 2026")

    page.set_viewport_size(kit.DESKTOP)
    kit.sign_in(page, live.url, kit.OWNER, kit.PASSWORD)
    row = page.locator(f'li[data-commitment="{FRITIDS_OWN}"]')
    expect(row).to_have_attribute("data-state", "uppföljd")
    expect(row.locator(".state")).to_have_text("uppföljd")
    expect(row).to_contain_text("Uppföljning 2026 är registrerad")
    expect(page.locator('li[data-state="pågående"]')).to_have_count(27)
    kit.shot(page, "dashboard")

    page.click(f'li[data-commitment="{FRITIDS_OWN}"] a')
    expect(page.locator("main")).to_contain_text("Frida Fritid (fritid-folkhalsa@boras.example, via länk i e-post)")


def test_the_process_owner_signs_in_and_reviews_what_is_overdue(
    live: Any, page: Any, clock: FixedClock, kit: Any
) -> None:
    from playwright.sync_api import expect

    clock.advance_to(kit.at(2027, 4, 20))
    page.goto(f"{live.url}/forsenat")
    expect(page).to_have_url(f"{live.url}/logga-in?nasta=%2Fforsenat")
    page.fill("#email", kit.OWNER)
    page.fill("#losenord", "fel")
    page.click("button:has-text('Logga in')")
    expect(page.locator("#felsammanfattning")).to_be_focused()
    expect(page.locator("#felsammanfattning a[href='#losenord']")).to_have_text(
        "Lösenord: Fel e-postadress eller lösenord. Försök igen."
    )
    page.fill("#losenord", kit.PASSWORD)
    page.click("button:has-text('Logga in')")
    expect(page).to_have_url(f"{live.url}/forsenat")
    expect(page.locator("h2").first).to_contain_text("Försenade uppföljningar")
    expect(page.locator("#forsenade tbody tr")).to_have_count(28)
    expect(page.locator("#forsenade tbody tr").first).to_contain_text("20")  # days late on 20 April
    kit.shot(page, "overdue", full_page=False)


def test_a_unit_contact_is_refused_another_units_commitment(live: Any, page: Any, kit: Any) -> None:
    from playwright.sync_api import expect

    kit.sign_in(page, live.url, kit.FRITID, kit.PASSWORD)
    expect(page.locator("li[data-commitment]")).to_have_count(4)
    response = page.goto(f"{live.url}/atagande/boras.mbu.kommun")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Ingen behörighet")
    expect(page.locator("main")).not_to_contain_text("Finansiera utbildningens omkostnader")


def fill_follow_up(page: Any, name: str) -> None:
    """Fill in the follow-up form in front of the browser, whatever the commitment's measures."""
    for count in page.locator("input[type=number]").all():
        count.fill("3")
    for text in page.locator("textarea[name^='m_']").all():
        text.fill("Genomfört enligt plan.")
    page.fill("#kommentar", "Arbetet har gått enligt plan.")
    page.fill("#namn", name)


def test_mina_uppfoljningar_reports_two_follow_ups_in_a_row(live: Any, page: Any, kit: Any) -> None:
    from playwright.sync_api import expect

    link = make_inbox_link(live.url, kit.SECRET, "fritid-folkhalsa@boras.example", kit.ISSUED)
    page.set_viewport_size(kit.PHONE)
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Mina uppföljningar")
    items = page.locator("li[data-commitment]")
    expect(items).to_have_count(4)
    first, second = (str(items.nth(i).get_attribute("data-commitment")) for i in range(2))
    kit.shot(page, "mine", full_page=True)

    for commitment, left in ((first, 3), (second, 2)):
        page.locator(f'li[data-commitment="{commitment}"] a.button').click()
        expect(page.locator("h1")).to_contain_text("Uppföljning 2026:")
        fill_follow_up(page, "Frida Fritid")
        page.click("button:has-text('Registrera uppföljningen')")
        expect(page).to_have_url(link)  # back on the list, no other mail needed
        expect(page.locator("h1")).to_have_text("Mina uppföljningar")
        expect(page.locator(".flash")).to_contain_text("Tack! Uppföljningen för 2026")
        expect(page.locator(f'li[data-commitment="{commitment}"]')).to_have_count(0)
        expect(items).to_have_count(left)
    page.reload()  # the thanks is shown once; both stay gone
    expect(page.locator(".flash")).to_have_count(0)
    expect(page.locator(f'li[data-commitment="{first}"], li[data-commitment="{second}"]')).to_have_count(0)
    expect(items).to_have_count(2)


# Every page a person reaches, signed in as the process owner (who sees them all) on a day with late work.
AXE_PAGES = (
    "/",
    "/forsenat",
    "/atagande/boras.mbu.kommun",
    "/atagande/boras.mbu.kommun/uppfoljning",
    "/atagande/boras.mbu.kommun/anstand",
    "/revision",
    "/revision/ny-insats",
    "/parter",
    "/rapport",
    "/rapport/2026.html",  # the yearly report in HTML, as the owner opens it from /rapport
    "/enheter",
    f"/atagande/{FRITIDS_OWN}",  # with a corrected follow-up and its earlier version
    f"/atagande/{FRITIDS_OWN}/ratta/2026",
    "/konto/losenord",
    "/anvandare",
    "/import",
    "/tillganglighet",
    "/finns-inte",
)
# What a party contact (the police) and a unit contact (Fritid) see when signed in.
AXE_PAGES_OTHERS = ("/", "/atagande/boras.mbu.polis", "/konto/losenord", "/tillganglighet")
WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
# WCAG 1.4.10 Reflow: content fits 320 CSS px (1280 px at 400 % zoom) without scrolling sideways.
REFLOW = {"width": 320, "height": 640}


@pytest.mark.parametrize("viewport", ["desktop", "390px", "320px"])
def test_axe_finds_no_wcag_21_aa_violation_on_any_page(
    boras_due: Engine, live: Any, browser: Any, clock: FixedClock, kit: Any, viewport: str
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    clock.advance_to(kit.at(2027, 4, 20))
    # One follow-up recorded and corrected: the correction form, the earlier version on the
    # commitment page, and the link from Mina uppföljningar opening the correction.
    report = {"period": 2026, "comment": "Enligt plan.", "by": "Frida Fritid", "now": clock.now()}
    values = {"antal-moten": 10, "representation": "Centrala BRÅ"}
    commands.record_follow_up(boras_due, FRITIDS_OWN, values=values, **report)
    commands.correct_follow_up(
        boras_due, FRITIDS_OWN, version=1, values=values | {"antal-moten": 11}, who=None, window_days=14, **report
    )
    # The year's analysis saved twice: /rapport shows it with its earlier version, the HTML report in its section.
    for version, text in enumerate(("Ett utkast.", "Året gick <b>bra</b>.\nNästa rad.\n\nSlutsatser: fortsätt.")):
        commands.save_analysis(boras_due, period=2026, text=text, by="Anna Andersson", now=clock.now(), version=version)
    size = (kit.VIEWPORTS | {"320px": REFLOW})[viewport]
    context = browser.new_context(viewport=size, locale="sv-SE")
    page = context.new_page()
    axe = Axe()
    found: dict[str, list[str]] = {}

    def check(label: str) -> None:
        """axe's AA violations on the open page, and "reflow" when it is wider than the window."""
        found[label] = [v["id"] for v in axe.run(page, options=WCAG_21_AA).response["violations"]]
        if page.evaluate("document.documentElement.scrollWidth") > size["width"]:
            found[label].append("reflow")

    for path in ("/logga-in", "/tillganglighet"):
        page.goto(f"{live.url}{path}")
        check(path)
    # Mina uppföljningar and the form it leads to need no sign-in: the link in the mail is the key.
    mine = "/mina/" + make_inbox_token(kit.SECRET, "fritid-folkhalsa@boras.example", kit.ISSUED)
    form = "/uppfoljning/" + make_token(kit.SECRET, FRITIDS_OWN, 2026, kit.ISSUED) + "?mina=" + mine.rsplit("/", 1)[1]
    # The page behind an invitation link, where the invited user sets a password.
    [invitation] = commands_users.invite_user(
        boras_due, "ny@boras.example", role="owner", by="axe", now=clock.now()
    ).queued
    invited = "/inbjudan/" + make_invite_token(kit.SECRET, invitation.data["user"], invitation.data["nonce"])
    for label, path in (("/mina/…", mine), ("/uppfoljning/…?mina=…", form), ("/inbjudan/…", invited)):
        page.goto(f"{live.url}{path}")
        check(label)
    # The link form sent empty: focus moves to the error summary, which links to every field to fix.
    page.goto(f"{live.url}/uppfoljning/" + make_token(kit.SECRET, "boras.mbu.kommun", 2026, kit.ISSUED))
    page.click("button[type=submit]")
    page.wait_for_load_state()
    # Chromium runs autofocus at the next rendering update after the load, not at it: wait for it
    # (with a deadline), then assert.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'felsammanfattning'")
    assert page.evaluate("document.activeElement.id") == "felsammanfattning"
    linked = page.locator("#felsammanfattning a").evaluate_all("links => links.map(a => a.hash)")
    marked = page.locator(".field-error").evaluate_all("ps => ps.map(p => '#' + p.id.slice(0, -4))")
    assert linked == marked and {"#kommentar", "#namn"} <= set(linked)
    check("/uppfoljning/… med fel")
    for who, paths in (
        (kit.POLIS, (*AXE_PAGES_OTHERS, "/rapport")),  # the analysis to read, without its form
        (kit.FRITID, AXE_PAGES_OTHERS),
        (kit.OWNER, AXE_PAGES),
    ):
        context.clear_cookies()
        kit.sign_in(page, live.url, who, kit.PASSWORD)
        for path in paths:
            page.goto(f"{live.url}{path}")
            check(f"{who} {path}")
    # The analysis form saved empty: focus on the error summary, which links to the text box.
    page.goto(f"{live.url}/rapport")
    page.fill("#analys-text", "")
    page.click("[data-analysis-form] button[type=submit]")
    page.wait_for_load_state()
    page.wait_for_function("document.activeElement && document.activeElement.id === 'felsammanfattning'")
    assert page.locator("#felsammanfattning a").evaluate_all("links => links.map(a => a.hash)") == ["#analys-text"]
    check("/rapport med fel i analysen")
    context.close()
    assert {label: ids for label, ids in found.items() if ids} == {}


def test_the_grouped_mail_reads_on_a_phone_and_its_personal_link_lists_every_follow_up(
    boras_due: Engine, live: Any, browser: Any, smtp_server: Any, kit: Any
) -> None:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect

    with ThreadPoolExecutor(1) as pool:
        settings = smtp_server.settings(live.url)
        pool.submit(
            deliver,
            boras_due,
            kit.ISSUED,
            settings,
            link=link_maker(live.url, kit.SECRET),
            inbox=lambda email, issued: make_inbox_link(live.url, kit.SECRET, email, issued),
        ).result()
    (mail,) = smtp_server.inbox.to("kommunpolis@polisen.example")
    assert str(mail["Subject"]) == "14 uppföljningar att lämna – den första senast 31 mars 2027"
    html = kit.body(mail, "html")
    for name, viewport in (("mail-grouped-desktop", kit.DESKTOP), ("mail-grouped-390px", kit.PHONE)):
        context = browser.new_context(viewport=viewport, locale="sv-SE")
        page = context.new_page()
        page.set_content(html)
        # Long links wrap inside their card: nothing is wider than the phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        assert page.locator("a:has-text('Registrera uppföljningen')").count() == 14
        violations = Axe().run(page, options=WCAG_21_AA).response["violations"]
        assert [v["id"] for v in violations] == []
        kit.shot(page, name)  # the first screen: what the reader sees on opening it
        context.close()
    inbox = next(line.strip() for line in kit.body(mail).splitlines() if "/mina/" in line)
    context = browser.new_context(viewport=kit.PHONE, locale="sv-SE")
    page = context.new_page()
    page.goto(inbox)
    expect(page.locator("h1")).to_have_text("Mina uppföljningar")
    expect(page.locator("li.card")).to_have_count(14)
    context.close()
