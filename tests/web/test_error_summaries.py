"""Every form, sent with one bad value in a real browser: focus lands on the error summary, whose links
point at the fields in error (WCAG 3.3.1 and 2.4.3), and axe-core finds no WCAG 2.1 AA violation in
that error state, on a desktop and at 320 px (where the page must not scroll sideways).

The forms are sent as typed (they carry ``novalidate``: the server says what is wrong, beside the field
and in the summary, the same way for every browser). The browser fixtures are in tests/web/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from engine.api import commands, commands_users, pages_users
from engine.clock import FixedClock
from notifications.links import make_invite_token

FRITIDS_OWN = "boras.bra-samordning.kommun"
SEED = Path(__file__).resolve().parents[1] / "data" / "import" / "boras-2015.txt"
REFLOW = {"width": 320, "height": 640}
WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def by_id(element_id: str) -> str:
    """A selector for an id with dots in it (a commitment's id is part of some fields' ids)."""
    return f"[id='{element_id}']"


def _submit(page: Any, form: str) -> None:
    page.locator(form).locator("button[type=submit]").first.click()
    page.wait_for_load_state()


def _cases(invited: str, fritid_user: int) -> list[tuple[str, str | None, str, Callable[[Any], None], list[str]]]:
    """(label, who signs in, page, what is typed and sent, the fields the summary must link to)."""

    def sign_in(page: Any) -> None:
        page.fill("#email", "anna.andersson@boras.example")
        page.fill("#losenord", "fel lösenord")
        _submit(page, "form[action='/logga-in']")

    def password(page: Any) -> None:
        page.fill("#nuvarande", "rätt lösenord 123")
        page.fill("#nytt", "ett nytt långt lösenord")
        page.fill("#nytt_igen", "ett annat långt lösenord")
        _submit(page, "form[action='/konto/losenord']")

    def set_password(page: Any) -> None:
        page.fill("#losenord", "kort")
        page.fill("#losenord_igen", "kort")
        _submit(page, "form.stack")

    def invite(page: Any) -> None:
        page.fill("#epost-ny", "inte en adress")
        page.select_option("#enhet-ny", "tekniska")
        _submit(page, "form[action='/anvandare/bjud-in']")

    def role(page: Any) -> None:
        details = page.locator("details", has=page.locator(f"[id='roll-u{fritid_user}']"))
        details.locator("summary").click()
        page.select_option(f"#roll-u{fritid_user}", "party")
        page.select_option(f"#part-u{fritid_user}", "")
        details.locator("button[type=submit]").click()
        page.wait_for_load_state()

    def unit(page: Any) -> None:
        page.fill("#epost-kommunpolis", "inte-en-adress")
        _submit(page, "section:has(#epost-kommunpolis) form")

    def follow_up(page: Any) -> None:
        page.fill("#kommentar", "")
        _submit(page, "form.stack")

    def correction(page: Any) -> None:
        page.fill("#kommentar", "  ")
        _submit(page, "form.stack")

    def extension(page: Any) -> None:
        page.fill("#datum", "2027-03-20")  # before the regular due date, 31 March
        page.fill("#anledning", "Sjukdom i enheten.")
        _submit(page, "form[action$='/anstand']")

    def decisions(page: Any) -> None:
        page.select_option(by_id("beslut-boras.mbu.kommun"), "change")
        page.fill(by_id("motivering-boras.mbu.kommun"), "")
        _submit(page, "#beslutsformular")

    def term(page: Any) -> None:
        page.fill("#term-every_years", "0")
        _submit(page, "form[action='/revision/giltighet']")

    def upload(page: Any) -> None:
        _submit(page, "form[action^='/revision/slutfor']")  # no file chosen

    def new_effort(page: Any) -> None:
        page.fill("#f-title", "Trygghetsvandringar i centrum")  # and no party's commitment
        _submit(page, "form[action='/revision/ny-insats']")

    def change(page: Any) -> None:
        _submit(page, "form[action='/parter/andrade-forutsattningar']")  # nothing said

    def terminate(page: Any) -> None:
        page.fill("#fran", "2027-12-31")
        page.fill("#text-uppsagning", "Ny överenskommelse.")
        _submit(page, "form[action='/parter/uppsagning']")  # not confirmed

    def analysis(page: Any) -> None:
        page.fill("#analys-text", "")
        _submit(page, "form[action='/rapport/analys']")  # nothing written

    def import_confirm(page: Any) -> None:
        page.set_input_files("#dokument", str(SEED))
        _submit(page, "form[action^='/import/dokument']")
        _submit(page, "form[action='/import/las-in']")  # the draft not confirmed as reviewed

    owner = "anna.andersson@boras.example"
    return [
        ("inloggning", None, "/logga-in", sign_in, ["#losenord"]),
        ("byt lösenord", owner, "/konto/losenord", password, ["#nytt_igen"]),
        ("inbjudan: välj lösenord", None, invited, set_password, ["#losenord"]),
        ("bjud in en användare", owner, "/anvandare", invite, ["#epost-ny"]),
        ("ändra roll", owner, "/anvandare", role, [f"#part-u{fritid_user}"]),
        ("enhet och kontakt", owner, "/enheter", unit, ["#epost-kommunpolis"]),
        ("uppföljning", owner, "/atagande/boras.mbu.kommun/uppfoljning", follow_up, ["#kommentar"]),
        ("rättelse", owner, f"/atagande/{FRITIDS_OWN}/ratta/2026", correction, ["#kommentar"]),
        ("anstånd", owner, "/atagande/boras.mbu.kommun/anstand", extension, ["#datum"]),
        ("revidering: beslut", owner, "/revision", decisions, ["#motivering-boras.mbu.kommun"]),
        ("revidering: giltighet", owner, "/revision", term, ["#term-every_years"]),
        ("revidering: fil", owner, "/revision", upload, ["#fil"]),
        ("revidering: ny insats", owner, "/revision/ny-insats", new_effort, ["#f-commitments-kommun-text"]),
        ("ändrade förutsättningar", owner, "/parter", change, ["#text-andrade"]),
        ("uppsägning", owner, "/parter", terminate, ["#bekrafta"]),
        ("rapportens analys", owner, "/rapport", analysis, ["#analys-text"]),
        ("läs in från dokument", owner, "/import", import_confirm, ["#granskat"]),
    ]


@pytest.mark.parametrize("viewport", ["desktop", "320px"])
def test_every_form_moves_focus_to_an_error_summary_that_links_to_each_field_in_error(
    boras_due: Engine, live: Any, browser: Any, clock: FixedClock, kit: Any, viewport: str
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    clock.advance_to(kit.at(2027, 4, 20))
    report = {"period": 2026, "comment": "Enligt plan.", "by": "Frida Fritid", "now": clock.now()}
    commands.record_follow_up(boras_due, FRITIDS_OWN, values={"antal-moten": 10, "representation": "BRÅ"}, **report)
    commands.open_revision(boras_due, by="Anna Andersson", now=clock.now())
    [invitation] = commands_users.invite_user(
        boras_due, "ny@boras.example", role="owner", by="test", now=clock.now()
    ).queued
    invited = "/inbjudan/" + make_invite_token(kit.SECRET, invitation.data["user"], invitation.data["nonce"])
    fritid_user = next(u.id for u in pages_users.users_page(boras_due).people if u.email == kit.FRITID)

    size = kit.DESKTOP if viewport == "desktop" else REFLOW
    context = browser.new_context(viewport=size, locale="sv-SE")
    context.set_default_timeout(15_000)
    page = context.new_page()
    axe = Axe()
    summaries: dict[str, list[str]] = {}
    violations: dict[str, list[str]] = {}
    signed_in: str | None = None
    for label, who, path, send, fields in _cases(invited, fritid_user):
        if who != signed_in:
            context.clear_cookies()
            if who is not None:
                kit.sign_in(page, live.url, who, kit.PASSWORD)
            signed_in = who
        page.goto(f"{live.url}{path}")
        send(page)
        # Chromium applies autofocus at the next rendering update after the load: wait for it.
        page.wait_for_function("document.activeElement && document.activeElement.id === 'felsammanfattning'")
        links = page.locator("#felsammanfattning a").evaluate_all("links => links.map(a => a.hash)")
        # Each link leads to a field of the form: an input, a select or a textarea with that id.
        targets = page.evaluate(
            "hashes => hashes.map(h => (document.getElementById(decodeURIComponent(h.slice(1))) || {}).tagName)",
            links,
        )
        summaries[label] = [h for h, tag in zip(links, targets, strict=True) if tag in ("INPUT", "SELECT", "TEXTAREA")]
        assert summaries[label] == links, (label, links, targets)
        assert set(fields) <= set(links), (label, links)
        violations[label] = [v["id"] for v in axe.run(page, options=WCAG_21_AA).response["violations"]]
        if page.evaluate("document.documentElement.scrollWidth") > size["width"]:
            violations[label].append("reflow")  # WCAG 1.4.10: the error state fits 320 px too
    context.close()
    assert {label: ids for label, ids in violations.items() if ids} == {}
