"""The users page (/anvandare) and the invitation link (/inbjudan/{token}).

The process owner invites a user by e-mail; the mail goes through the outbox and the
dispatcher like every notice; the link in it lets the user set a password once, until a
new invitation replaces it or it expires. The owner changes roles, deactivates (the
user's sessions end and sign-in is refused) and reactivates, but never deactivates or
demotes themselves. Unit and party users get 403 on the page and on every form it posts.
"""

from __future__ import annotations

import html
import re
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx2 as httpx
from dateutil.relativedelta import relativedelta
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from engine import db
from engine.api import commands_users
from engine.clock import FixedClock
from engine.models import OutboxRow, User
from notifications.dispatcher import deliver
from notifications.links import link_maker
from notifications.settings import Settings
from rules.model import OutboxState

NEW = "nils.ny@boras.example"
NEW_PASSWORD = "ett nytt långt lösenord"
LINK = re.compile(r"(https?://[^/\s]+)(/inbjudan/[A-Za-z0-9._-]+)")
SECRET = "test-secret-" + "x" * 40  # the web conftest's
POSTS = ("bjud-in", "ny-inbjudan", "andra", "avaktivera", "aktivera", "ta-bort")


def _invite(client: TestClient, kit: Any, **fields: str) -> Any:
    page = client.get("/anvandare")
    data = {"csrf": kit.csrf_of(page.text), "epost": NEW, "namn": "Nils Ny", "roll": "unit", "enhet": "tekniska"}
    return client.post("/anvandare/bjud-in", data=data | fields, follow_redirects=False)


def _post(client: TestClient, kit: Any, action: str, **fields: str) -> Any:
    page = client.get("/anvandare")
    return client.post(f"/anvandare/{action}", data={"csrf": kit.csrf_of(page.text)} | fields, follow_redirects=False)


def _mails_to(engine: Engine, settings: Settings, clock: FixedClock, to: str = NEW) -> list[EmailMessage]:
    """Send what is due (the dispatcher, as ``samverkan run`` does); every mail sent to ``to`` so far."""
    deliver(engine, clock.now(), settings, link=link_maker("http://testserver", SECRET))
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(settings.mail_dir.glob("*.eml"))]
    return [m for m in mails if isinstance(m, EmailMessage) and to in str(m["To"])]


def _links_in_mail(engine: Engine, settings: Settings, clock: FixedClock, to: str = NEW) -> list[str]:
    """The invitation links mailed to ``to`` so far."""
    found = []
    for mail in _mails_to(engine, settings, clock, to):
        text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        found += [m.group(2) for m in LINK.finditer(text)]
    return found


def _written(engine: Engine) -> tuple[Any, ...]:
    with db.transaction(engine) as s:
        return (
            sorted((u.email, u.role, u.party, u.unit, u.active, u.invite_nonce) for u in s.scalars(select(User))),
            s.scalar(select(func.count()).select_from(OutboxRow)),
        )


def test_an_invited_user_sets_a_password_through_the_mailed_link_once_and_signs_in(
    client: TestClient, kit: Any, boras_due: Engine, settings: Settings, clock: FixedClock
) -> None:
    kit.login(client, kit.OWNER)
    answer = _invite(client, kit)
    assert answer.status_code == 303
    shown = html.unescape(client.get("/anvandare").text)
    assert f"Inbjudan till {NEW} skickas med nästa utskick. Länken gäller i 7 dagar." in shown
    assert "inbjuden, inget lösenord ännu (länken gäller till 8 mars 2027 kl. 10:00)" in shown
    with db.transaction(boras_due) as s:
        row = s.scalars(select(OutboxRow).where(OutboxRow.kind == "invite")).one()
        assert (row.recipients, row.state) == ([NEW], OutboxState.PENDING)

    [mail] = _mails_to(boras_due, settings, clock)
    assert mail["Subject"] == "Inbjudan till samverkan: välj ditt lösenord"
    text = kit.body(mail)
    assert "Anna Andersson <anna.andersson@boras.example> har bjudit in dig" in text
    assert "enhetskontakt för Tekniska förvaltningen" in text and "gäller till 8 mars 2027 kl. 10:00" in text
    [link] = [m.group(2) for m in LINK.finditer(text)]

    anonymous = TestClient(client.app)
    form = anonymous.get(link)
    assert form.status_code == 200 and "Välj lösenord" in form.text and NEW in form.text
    csrf = kit.csrf_of(form.text)
    short = anonymous.post(link, data={"csrf": csrf, "losenord": "kort", "losenord_igen": "kort"})
    assert short.status_code == 400 and 'aria-describedby="losenord-fel"' in short.text
    assert "Lösenordet ska vara minst 10 tecken." in html.unescape(short.text)
    differ = anonymous.post(link, data={"csrf": csrf, "losenord": NEW_PASSWORD, "losenord_igen": NEW_PASSWORD + "x"})
    assert differ.status_code == 400 and 'aria-describedby="losenord_igen-fel"' in differ.text
    assert "De två lösenorden är olika" in html.unescape(differ.text)
    assert kit.login(anonymous, NEW, NEW_PASSWORD).status_code == 401  # nothing was set by the refused forms

    done = anonymous.post(
        link, data={"csrf": csrf, "losenord": NEW_PASSWORD, "losenord_igen": NEW_PASSWORD}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/logga-in"
    assert "Lösenordet är sparat" in html.unescape(anonymous.get("/logga-in").text)
    assert kit.login(anonymous, NEW, NEW_PASSWORD).status_code == 200  # followed to the dashboard
    assert anonymous.get("/").status_code == 200
    assert anonymous.get("/anvandare").status_code == 403  # a unit contact, as invited

    again = TestClient(client.app).get(link)
    assert again.status_code == 410 and "Länken är redan använd" in html.unescape(again.text)


def test_a_new_invitation_ends_every_earlier_link_and_a_link_expires_after_seven_days(
    client: TestClient, kit: Any, boras_due: Engine, settings: Settings, clock: FixedClock
) -> None:
    kit.login(client, kit.OWNER)
    assert _invite(client, kit).status_code == 303
    [first] = _links_in_mail(boras_due, settings, clock)
    # A forgotten password: a new invitation, twice, the second before the first is sent.
    assert _post(client, kit, "ny-inbjudan", email=NEW).status_code == 303
    assert _post(client, kit, "ny-inbjudan", email=NEW).status_code == 303
    with db.transaction(boras_due) as s:
        states = sorted(s.scalars(select(OutboxRow.state).where(OutboxRow.kind == "invite")))
    assert states == [OutboxState.PENDING, OutboxState.SENT, OutboxState.WITHDRAWN]
    links = _links_in_mail(boras_due, settings, clock)
    assert len(links) == 2 and first in links  # the withdrawn one was never sent
    [latest] = [link for link in links if link != first]

    anonymous = TestClient(client.app)
    old = anonymous.get(first)
    assert old.status_code == 410 and "ersatts av en nyare inbjudan" in html.unescape(old.text)
    assert anonymous.get(latest).status_code == 200
    assert anonymous.get(first[:-3] + "abc").status_code == 404

    clock.advance_to(clock.now() + relativedelta(days=7, minutes=1))
    expired = anonymous.get(latest)
    assert expired.status_code == 410 and "Länken har gått ut" in html.unescape(expired.text)
    assert "inbjuden, inget lösenord ännu (länken har gått ut)" in client.get("/anvandare").text

    # A password set another way (here `samverkan user passwd`) uses up the pending invitation.
    assert _post(client, kit, "ny-inbjudan", email=NEW).status_code == 303
    [fresh] = [link for link in _links_in_mail(boras_due, settings, clock) if link not in links]
    assert anonymous.get(fresh).status_code == 200
    commands_users.set_password(boras_due, NEW, NEW_PASSWORD)
    assert anonymous.get(fresh).status_code == 410


def test_bad_invitations_are_shown_beside_their_fields_and_nothing_is_written(
    client: TestClient, kit: Any, boras_due: Engine
) -> None:
    kit.login(client, kit.OWNER)
    before = _written(boras_due)
    cases = [
        ({"epost": "inte en adress"}, "epost", "ingen giltig e-postadress"),
        ({"epost": " "}, "epost", "Ange e-postadressen"),
        ({"epost": kit.FRITID.upper()}, "epost", "finns redan"),
        ({"enhet": ""}, "enhet", "Välj vilken enhet"),
        ({"roll": "party", "part": ""}, "part", "Välj vilken part"),
        ({"roll": "admin"}, "roll", "Välj en roll"),
        ({"enhet": "socialtjansten"}, "enhet", "Okänd enhet 'socialtjansten'"),
    ]
    for fields, field, text in cases:
        bad = _invite(client, kit, **fields)
        assert bad.status_code == 400, fields
        assert f'aria-describedby="{field}-ny-fel"' in bad.text and text in html.unescape(bad.text), fields
        assert "Inget har sparats" in bad.text
    assert _written(boras_due) == before


def _id_of(engine: Engine, email: str) -> int:
    with db.transaction(engine) as s:
        return int(s.scalars(select(User.id).where(User.email == email)).one())


def test_the_owner_changes_a_role_and_deactivates_and_reactivates_a_user(
    client: TestClient, kit: Any, boras_due: Engine, app: Any
) -> None:
    fritid = TestClient(app)
    kit.login(fritid, kit.FRITID)
    assert fritid.get("/parter").status_code == 403
    kit.login(client, kit.OWNER)
    key = f"u{_id_of(boras_due, kit.FRITID)}"

    missing = _post(client, kit, "andra", email=kit.FRITID, anvandare=key, roll="party", part="")
    assert missing.status_code == 400 and f'aria-describedby="part-{key}-fel"' in missing.text
    assert "<details open>" in missing.text
    moved = _post(client, kit, "andra", email=kit.FRITID, anvandare=key, roll="party", part="polis", enhet="tekniska")
    assert moved.status_code == 303
    assert "fritid@boras.example har nu rollen partskontakt för polis." in client.get("/anvandare").text
    with db.transaction(boras_due) as s:
        u = s.scalars(select(User).where(User.email == kit.FRITID)).one()
        assert (u.role, u.party, u.unit) == ("party", "polis", None)
    assert fritid.get("/parter").status_code == 200  # the new role at once, in the same session

    assert _post(client, kit, "avaktivera", email=kit.FRITID).status_code == 303
    assert "avaktiverad: utloggad på alla enheter" in client.get("/anvandare").text
    assert fritid.get("/parter", follow_redirects=False).status_code == 303  # the session has ended
    assert kit.login(fritid, kit.FRITID).status_code == 401  # and the right password opens nothing
    # No invitation either: a deactivated user is reactivated first.
    refused = _post(client, kit, "ny-inbjudan", email=kit.FRITID)
    assert refused.status_code == 400 and "aktivera användaren först" in refused.text

    assert _post(client, kit, "aktivera", email=kit.FRITID).status_code == 303
    assert kit.login(fritid, kit.FRITID).status_code == 200
    assert fritid.get("/parter").status_code == 200


def test_the_owner_cannot_deactivate_or_demote_themselves(client: TestClient, kit: Any, boras_due: Engine) -> None:
    kit.login(client, kit.OWNER)
    before = _written(boras_due)
    key = f"u{_id_of(boras_due, kit.OWNER)}"
    off = _post(client, kit, "avaktivera", email=kit.OWNER)
    assert off.status_code == 400 and "Du kan inte avaktivera dig själv" in off.text
    down = _post(client, kit, "andra", email=kit.OWNER, anvandare=key, roll="unit", enhet="tekniska")
    assert down.status_code == 400 and f'aria-describedby="roll-{key}-fel"' in down.text
    assert "Du kan inte ta bort din egen roll som processägare" in html.unescape(down.text)
    assert _written(boras_due) == before
    assert client.get("/anvandare").status_code == 200


def test_unit_and_party_users_get_403_on_the_page_and_every_post_through_the_real_server(
    live: Any, kit: Any, boras_due: Engine
) -> None:
    before = _written(boras_due)
    for who in (kit.FRITID, kit.POLIS):
        with httpx.Client(base_url=live.url) as c:
            page = c.get("/logga-in")
            data = {"csrf": kit.csrf_of(page.text), "email": who, "losenord": kit.PASSWORD, "nasta": "/"}
            assert c.post("/logga-in", data=data).status_code == 303
            csrf = kit.csrf_of(c.get("/").text)
            assert c.get("/anvandare").status_code == 403
            for action in POSTS:
                form = {"csrf": csrf, "email": kit.TEKNISKA, "epost": NEW, "roll": "owner", "anvandare": "u1"}
                answer = c.post(f"/anvandare/{action}", data=form)
                assert answer.status_code == 403 and "Ingen behörighet" in answer.text, action
    assert _written(boras_due) == before


def test_browser_invite_mail_link_password_and_sign_in(
    page: Any, live: Any, kit: Any, boras_due: Engine, smtp_server: Any, clock: FixedClock, tmp_path: Path
) -> None:
    kit.sign_in(page, live.url, kit.OWNER, kit.PASSWORD)
    page.goto(f"{live.url}/anvandare")
    page.fill("#epost-ny", NEW)
    page.fill("#namn-ny", "Nils Ny")
    page.select_option("#roll-ny", "unit")
    page.select_option("#enhet-ny", "tekniska")
    page.click("button:has-text('Skicka inbjudan')")
    page.wait_for_selector(f"text=Inbjudan till {NEW} skickas med nästa utskick")
    kit.shot(page, "users", full_page=True)

    # The dispatcher sends it over real SMTP, with the live server's address in the link (in a
    # thread: the dispatcher runs its own event loop, Playwright's sync API holds this one).
    with ThreadPoolExecutor(1) as pool:
        pool.submit(
            deliver, boras_due, clock.now(), smtp_server.settings(live.url), link=link_maker(live.url, kit.SECRET)
        ).result()
    [mail] = smtp_server.inbox.to(NEW)
    assert mail["Subject"] == "Inbjudan till samverkan: välj ditt lösenord"
    found = LINK.search(kit.body(mail))
    assert found and found.group(1) == live.url

    other = page.context.browser.new_context(viewport=kit.DESKTOP, locale="sv-SE")
    try:
        invited = other.new_page()
        invited.goto(found.group(0))
        invited.fill("#losenord", NEW_PASSWORD)
        invited.fill("#losenord_igen", "något annat lösenord")
        invited.click("button:has-text('Spara lösenordet')")
        invited.wait_for_selector("#losenord_igen-fel")
        assert invited.get_attribute("#losenord_igen", "aria-describedby") == "losenord_igen-fel"
        invited.fill("#losenord", NEW_PASSWORD)
        invited.fill("#losenord_igen", NEW_PASSWORD)
        invited.click("button:has-text('Spara lösenordet')")
        invited.wait_for_selector("text=Lösenordet är sparat")
        invited.fill("#email", NEW)
        invited.fill("#losenord", NEW_PASSWORD)
        invited.click("button:has-text('Logga in')")
        invited.wait_for_selector("text=Logga ut")
        assert "Nils Ny" in invited.content() or NEW in invited.content()
    finally:
        other.close()


def test_browser_unit_and_party_users_are_refused_the_users_page(page: Any, live: Any, kit: Any) -> None:
    for who in (kit.FRITID, kit.POLIS):
        page.context.clear_cookies()
        kit.sign_in(page, live.url, who, kit.PASSWORD)
        page.wait_for_selector("text=Logga ut")
        assert page.locator("a[href='/anvandare']").count() == 0
        answer = page.goto(f"{live.url}/anvandare")
        assert answer.status == 403 and "Ingen behörighet" in page.content()
        page.goto(f"{live.url}/")
        csrf = page.locator("input[name=csrf]").first.get_attribute("value")
        for action in POSTS:
            posted = page.request.post(f"{live.url}/anvandare/{action}", form={"csrf": csrf, "email": kit.TEKNISKA})
            assert posted.status == 403, action
