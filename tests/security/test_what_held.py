"""What held against the outside attack (issue 14), kept as tests so it keeps holding.

Each test replays one family of the attacker's attempts against the real server
(uvicorn on 127.0.0.1): forged and altered links, link expiry across the change to
summer time, another unit's form, a used link, anonymous pages and actions, the roles,
open redirects through ``nasta``, CSRF variants, and script or template payloads in
what a unit may write (shown on every page, report and mail that carries it).
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import select

from engine import db
from engine.clock import FixedClock
from engine.models import FollowUp
from notifications.links import make_inbox_token, make_token
from tests.security.conftest import Live
from tests.web.conftest import ISSUED, SECRET, Kit, start_server, stop_server
from web.app import create_app

MBU = "boras.mbu.kommun"  # the municipality's side of "MBU": one count measure; its unit is fritid-folkhalsa
POLIS_MBU = "boras.mbu.polis"
FRITIDS_OWN = "boras.bra-samordning.kommun"  # fritid-folkhalsa's own commitment
LIFETIME = timedelta(days=60)

PAGES = [
    "/",
    "/forsenat",
    f"/atagande/{MBU}",
    f"/atagande/{MBU}/uppfoljning",
    "/revision",
    "/parter",
    "/rapport",
    "/rapport/2026.html",
    "/rapport/2026.csv",
    "/rapport/2026.md",
    "/kalender.ics",
    "/kalender.ics?enhet=fritid-folkhalsa",
]
ACTIONS = [
    "/logga-ut",
    f"/atagande/{MBU}/uppfoljning",
    "/revision/inled",
    "/revision/beslut",
    "/revision/slutfor",
    "/parter/andrade-forutsattningar",
    "/parter/uppsagning",
]


def _forgeries() -> list[str]:
    good = make_token(SECRET, MBU, 2026, ISSUED)
    body, _, signature = good.rpartition(".")
    flipped = [good[:i] + ("A" if good[i] != "A" else "B") + good[i + 1 :] for i in (0, 5, len(body) - 1)]
    return [
        "x",
        "abc",
        "a.b",
        "a..b",
        "-._~",
        good[:-1],
        good[:-5],
        good + "A",
        good + ".x",
        body,
        body + ".",
        "." + signature,
        signature,
        good.upper(),
        good[::-1],
        *flipped,
        good.replace(".", ".."),
        make_token("another-secret-" + "y" * 40, MBU, 2026, ISSUED),
        make_inbox_token(SECRET, Kit.FRITID, ISSUED),  # a personal-page token is no follow-up token
        "eyJjIjoiYm9yYXMubWJ1LmtvbW11biIsInAiOjIwMjYsImkiOjB9.forged",
        "%00",
        "%2e%2e%2fetc%2fpasswd",
        "..%2F..%2Fetc",
        "x" * 300,
        "å" * 20,
        "<script>alert(1)</script>",
        "{{7*7}}",
        "' OR 1=1 --",
    ]


FORGERIES = _forgeries()


def test_thirty_forged_or_malformed_links_get_the_swedish_404_and_write_nothing(live: Live) -> None:
    assert len(FORGERIES) == 30
    with live.client() as c:
        for token in FORGERIES:
            path = "/uppfoljning/" + quote(token, safe="")
            for answer in (c.get(path), c.post(path, data={"csrf": "x", "m_utbildningar": "2", "namn": "x"})):
                assert answer.status_code == 404, (token, answer.status_code)
                assert "<script>alert(1)</script>" not in answer.text
    with db.transaction(live.engine) as s:
        assert s.scalars(select(FollowUp)).all() == []


def test_forged_personal_links_get_the_404_too(live: Live) -> None:
    with live.client() as c:
        for token in [*FORGERIES[:12], make_token(SECRET, MBU, 2026, ISSUED)]:  # a follow-up token is no inbox token
            answer = c.get("/mina/" + quote(token, safe=""))
            assert answer.status_code == 404, token


def test_a_link_expires_exactly_at_its_lifetime_across_the_change_to_summer_time(live: Live) -> None:
    """Issued 1 March 2027 08:00 (CET); summer time begins 28 March, so the 60 days end at 09:00 CEST."""
    path = Kit.link_path(MBU)
    end = (ISSUED.astimezone(UTC) + LIFETIME).astimezone(ISSUED.tzinfo)
    assert (end.hour, end.utcoffset()) == (9, timedelta(hours=2))
    with live.client() as c:
        live.clock.current = ISSUED - timedelta(hours=1)  # issued "in the future": not valid yet, and says from when
        early = c.get(path)
        assert early.status_code == 403 and "Länken gäller från 1 mars 2027 kl. 08:00" in early.text
        live.clock.advance_to(end)
        assert c.get(path).status_code == 200
        live.clock.advance_to(end + timedelta(seconds=1))
        late = c.get(path)
        assert late.status_code == 410 and "Länken har gått ut" in late.text


def _link_form(c: Any, path: str) -> dict[str, str]:
    page = c.get(path)
    assert page.status_code == 200, page.text
    return {"csrf": Kit.csrf_of(page.text), "m_utbildningar": "2", "kommentar": "Klart.", "namn": "Frida"}


def test_a_links_form_token_does_not_carry_over_to_another_link_and_replay_is_410(live: Live) -> None:
    mine, theirs = Kit.link_path(MBU), Kit.link_path(POLIS_MBU)
    with live.client() as c:
        form = _link_form(c, mine)
        refused = c.post(theirs, data=form)
        assert refused.status_code == 403 and "Formuläret kunde inte kontrolleras" in refused.text
        assert c.post(mine, data=form).status_code == 303
        replay = c.post(mine, data=form)
        assert replay.status_code == 410 and "redan registrerad" in replay.text
    with db.transaction(live.engine) as s:
        assert [f.commitment_id for f in s.scalars(select(FollowUp))] == [MBU]


def test_a_unit_contact_is_refused_another_units_form_and_fields(live: Live) -> None:
    with live.signed_in(Kit.FRITID) as c:
        page = c.get(f"/atagande/{FRITIDS_OWN}/uppfoljning")
        assert page.status_code == 200
        csrf = Kit.csrf_of(page.text)
        for other in (MBU, POLIS_MBU):
            assert c.get(f"/atagande/{other}/uppfoljning").status_code == 403, other
            answer = c.post(f"/atagande/{other}/uppfoljning", data={"csrf": csrf, "m_utbildningar": "2"})
            assert answer.status_code == 403, other
    with db.transaction(live.engine) as s:
        assert s.scalars(select(FollowUp)).all() == []


def test_twelve_pages_and_seven_actions_send_anonymous_users_to_sign_in(live: Live) -> None:
    with live.client() as c:
        for path in PAGES:
            answer = c.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/logga-in?nasta="), path
        for path in ACTIONS:
            answer = c.post(path, data={"csrf": "x"})
            assert answer.status_code in (303, 403), path
            if answer.status_code == 303:
                assert answer.headers["location"].startswith("/logga-in"), path


@pytest.mark.parametrize(
    ("who", "refused"),
    [
        (Kit.FRITID, ["/forsenat", "/revision", "/parter"]),
        (Kit.POLIS, [f"/atagande/{MBU}/uppfoljning"]),
    ],
)
def test_unit_and_party_contacts_stay_within_their_role(live: Live, who: str, refused: list[str]) -> None:
    with live.signed_in(who) as c:
        for path in refused:
            assert c.get(path).status_code == 403, (who, path)
        page = c.get("/")
        assert page.status_code == 200
        if who == Kit.FRITID:
            assert POLIS_MBU not in page.text  # only its own commitments are listed


NASTA = [
    "//evil.example/",
    "///evil.example/",
    "http://evil.example/",
    "https:evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "evil.example",
    " //evil.example",
    "%2F%2Fevil.example",
    "/\t/evil.example",
]


def test_eleven_open_redirect_variants_of_nasta_stay_on_this_site(live: Live) -> None:
    assert len(NASTA) == 11
    for target in NASTA:
        with live.client() as c:
            page = c.get("/logga-in?nasta=" + quote(target, safe=""))
            answer = c.post(
                "/logga-in",
                data={"csrf": Kit.csrf_of(page.text), "email": Kit.OWNER, "losenord": Kit.PASSWORD, "nasta": target},
            )
            assert answer.status_code == 303, target
            location = answer.headers["location"]
            parts = urlsplit(location)
            assert (parts.scheme, parts.netloc) == ("", ""), location  # a path on this site, nothing else
            assert location.startswith("/") and not location.startswith("//") and "\\" not in location, location


def test_thirteen_csrf_variants_are_refused_and_change_nothing(live: Live) -> None:
    with live.signed_in(Kit.OWNER) as c:
        good = Kit.csrf_of(c.get(f"/atagande/{MBU}/uppfoljning").text)
        variants: list[dict[str, Any]] = [
            {},
            {"csrf": ""},
            {"csrf": " "},
            {"csrf": good[:-1]},
            {"csrf": good + "x"},
            {"csrf": good.upper() if good.upper() != good else good.lower()},
            {"csrf": good[::-1]},
            {"csrf": "null"},
            {"csrf": "0"},
            {"csrf": "x" * 5000},
            {"csrf": [good[:-1], good]},  # the first value counts: a wrong one first is refused
            {"CSRF": good},
            {"csrf": " " + good},
        ]
        assert len(variants) == 13
        for fields in variants:
            answer = c.post(f"/atagande/{MBU}/uppfoljning", data={"m_utbildningar": "2", **fields})
            assert answer.status_code == 403, fields
            assert "Formuläret har gått ut" in answer.text
        # cross-site: another origin's page cannot read the token, and a cookie-less post has no session
        with live.client() as stranger:
            assert stranger.post("/logga-ut", data={"csrf": good}).status_code in (303, 403)
        assert c.get("/").status_code == 200  # still signed in: the refused sign-out did nothing
    with db.transaction(live.engine) as s:
        assert s.scalars(select(FollowUp)).all() == []


PAYLOAD = "<script>alert('x')</script> {{7*7}} ${7*7} <img src=x onerror=alert(1)>"


def test_script_and_template_payloads_are_shown_as_text_on_every_page_report_and_mail(
    boras_due: Any, smtp_server: Any
) -> None:
    clock = FixedClock(Kit.at(2027, 3, 1, 10))
    server = start_server(create_app(boras_due, smtp_server.settings("http://127.0.0.1"), clock, secret=SECRET))
    live = Live(url=server.url, clock=clock, engine=boras_due, server=server)
    try:
        with live.client() as c:
            form = _link_form(c, Kit.link_path(MBU))
            form.update(kommentar=PAYLOAD, namn=PAYLOAD)
            assert c.post(Kit.link_path(MBU), data=form).status_code == 303
        with live.signed_in(Kit.POLIS) as c:
            page = c.get("/parter")
            sent = c.post(
                "/parter/andrade-forutsattningar",
                data={
                    "csrf": Kit.csrf_of(page.text),
                    "overenskommelse": "boras",
                    "part": "polis",
                    "text": PAYLOAD + "\r\nBcc: evil@evil.example\r\n\r\nInjected",
                    "atagande": [POLIS_MBU],
                },
            )
            assert sent.status_code in (200, 303), sent.text
        shown: dict[str, str] = {}
        with live.signed_in(Kit.OWNER) as c:
            for path in ("/", f"/atagande/{MBU}", "/parter", "/rapport/2026.html", "/rapport/2026.csv"):
                answer = c.get(path)
                assert answer.status_code == 200, path
                shown[path] = answer.text
    finally:
        stop_server(server)
    for path, text in shown.items():
        if not path.endswith(".csv"):  # a CSV file is data, downloaded, never a page
            assert "<script>alert" not in text and "<img src=x" not in text, path
    for path in (f"/atagande/{MBU}", "/parter", "/rapport/2026.csv"):
        assert "{{7*7}}" in shown[path], path  # shown as written, never evaluated
    (mail,) = [m for m in smtp_server.inbox.messages if m["X-Samverkan-Kind"] == "change_notice"]
    assert mail["Bcc"] is None and "evil.example" not in str(mail["X-Envelope-To"])
    assert all("evil" not in str(value) for _, value in mail.items())
    assert "{{7*7}}" in Kit.body(mail) and "Bcc: evil@evil.example" in Kit.body(mail)  # text, not a header
    assert "<script>alert" not in Kit.body(mail, "html")
