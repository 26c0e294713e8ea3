"""Who may see and change what: signing in, roles, CSRF, and every change in the history with who made it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from engine import db
from engine.models import FollowUp, TransitionRecord, User

FRITIDS_OWN = "boras.bra-samordning.kommun"  # Fritids- och folkhälsoförvaltningen is responsible
SOMEONE_ELSES = "boras.mbu.kommun"  # BråB's own


def shown_commitments(html: str) -> list[str]:
    return re.findall(r'data-commitment="([^"]+)"', html)


def test_every_page_but_the_mail_link_needs_signing_in(client: TestClient) -> None:
    for path in ("/", "/forsenat", f"/atagande/{SOMEONE_ELSES}", "/revision", "/parter", "/rapport", "/kalender.ics"):
        page = client.get(path, follow_redirects=False)
        assert page.status_code == 303, path
        assert page.headers["location"].startswith("/logga-in?nasta=")
    assert "Logga in" in client.get("/").text


def test_a_wrong_password_or_unknown_address_gets_the_same_swedish_answer(client: TestClient, kit: Any) -> None:
    wrong = kit.login(client, kit.OWNER, "fel lösenord")
    unknown = kit.login(client, "ingen@boras.example", kit.PASSWORD)
    for page in (wrong, unknown):
        assert page.status_code == 401 and "Fel e-postadress eller lösenord" in page.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_signing_in_goes_back_to_the_page_asked_for_but_never_off_site(client: TestClient, kit: Any) -> None:
    page = kit.login(client, kit.OWNER, nasta="/forsenat")
    assert page.url.path == "/forsenat"
    client.cookies.clear()
    page = kit.login(client, kit.OWNER, nasta="//evil.example/")
    assert page.url.host == "testserver" and page.url.path == "/"


def test_the_password_is_stored_as_an_argon2id_hash(boras_due: Engine, kit: Any) -> None:
    with db.transaction(boras_due) as s:
        hashes = s.scalars(select(User.password_hash)).all()
    assert hashes and all(h.startswith("$argon2id$") and kit.PASSWORD not in h for h in hashes)


def test_the_process_owner_sees_every_commitment(client: TestClient, kit: Any) -> None:
    page = kit.login(client, kit.OWNER)
    assert len(shown_commitments(page.text)) == 30
    assert "Anna Andersson" in page.text and "processägare" in page.text


def test_a_unit_contact_sees_only_its_own_commitments(client: TestClient, kit: Any) -> None:
    page = kit.login(client, kit.FRITID)
    shown = shown_commitments(page.text)
    assert shown == [
        "boras.bra-samordning.kommun",
        "boras.rent-och-snyggt.kommun",
        "boras.alkoholservering.kommun",
        "boras.gym-dopning.kommun",
    ]
    assert "Fritids- och folkhälsoförvaltningen" in page.text


def test_a_unit_contact_is_refused_another_units_commitment(client: TestClient, kit: Any) -> None:
    kit.login(client, kit.FRITID)
    assert client.get(f"/atagande/{FRITIDS_OWN}").status_code == 200
    page = client.get(f"/atagande/{SOMEONE_ELSES}")
    assert page.status_code == 403
    assert "Ingen behörighet" in page.text and "hör inte till din enhet" in page.text
    assert "Finansiera utbildningens omkostnader" not in page.text  # nothing of the commitment leaks


def test_a_unit_contact_cannot_record_another_units_follow_up(client: TestClient, boras_due: Engine, kit: Any) -> None:
    kit.login(client, kit.FRITID)
    csrf = kit.csrf_of(client.get("/").text)
    page = client.post(
        f"/atagande/{SOMEONE_ELSES}/uppfoljning",
        data={"csrf": csrf, "m_utbildningar": "2", "kommentar": "Inte vårt", "timmar": ""},
    )
    assert page.status_code == 403
    with db.transaction(boras_due) as s:
        assert s.scalars(select(FollowUp)).all() == []


def test_a_unit_contact_records_its_own_follow_up_and_the_history_says_who(
    client: TestClient, boras_due: Engine, kit: Any
) -> None:
    kit.login(client, kit.FRITID)
    form = client.get(f"/atagande/{FRITIDS_OWN}/uppfoljning")
    assert form.status_code == 200 and "Antal möten" in form.text and "Ditt namn" not in form.text
    page = client.post(
        f"/atagande/{FRITIDS_OWN}/uppfoljning",
        data={
            "csrf": kit.csrf_of(form.text),
            "m_antal-moten": "9",
            "m_representation": "Alla förvaltningar och polisen",
            "kommentar": "Ett bra år.",
        },
    )
    assert page.status_code == 200 and "Uppföljningen för 2026 är registrerad" in page.text
    with db.transaction(boras_due) as s:
        move = s.scalars(select(TransitionRecord).where(TransitionRecord.commitment_id == FRITIDS_OWN)).all()[-1]
    assert (move.to_state, move.by) == ("uppföljd", "Frida Fritid <fritid@boras.example>")
    assert "Frida Fritid &lt;fritid@boras.example&gt;" in page.text  # the history on the commitment's page


def test_a_party_contact_records_its_own_partys_follow_ups_only(client: TestClient, kit: Any) -> None:
    kit.login(client, kit.POLIS)
    assert client.get("/atagande/boras.mbu.polis/uppfoljning").status_code == 200
    assert client.get(f"/atagande/{SOMEONE_ELSES}").status_code == 200  # sees it
    assert client.get(f"/atagande/{SOMEONE_ELSES}/uppfoljning").status_code == 403  # records only its own


def test_a_unit_contact_has_no_review_revision_or_party_pages(client: TestClient, kit: Any) -> None:
    kit.login(client, kit.TEKNISKA)
    for path in ("/forsenat", "/revision", "/parter", "/rapport"):
        page = client.get(path)
        assert page.status_code == 403 and "Ingen behörighet" in page.text, path


def test_a_unit_contact_with_no_running_commitment_is_told_so(client: TestClient, kit: Any) -> None:
    page = kit.login(client, kit.TEKNISKA)  # Tekniska's only commitment, Trafik, has ended
    assert shown_commitments(page.text) == ["boras.trafik.kommun"]
    assert "avslutad" in page.text


@pytest.mark.parametrize("csrf", [None, "", "en-gissning"])
def test_every_form_is_refused_without_the_sessions_csrf_token(
    client: TestClient, boras_due: Engine, kit: Any, csrf: str | None
) -> None:
    kit.login(client, kit.OWNER)
    data = {"m_utbildningar": "2", "kommentar": "ok"} | ({"csrf": csrf} if csrf is not None else {})
    page = client.post(f"/atagande/{SOMEONE_ELSES}/uppfoljning", data=data)
    assert page.status_code == 403 and "Formuläret har gått ut" in page.text
    with db.transaction(boras_due) as s:
        assert s.scalars(select(FollowUp)).all() == []
    assert client.post("/logga-ut", data={"csrf": csrf or ""}).status_code == 403


def test_signing_out_ends_the_session(client: TestClient, kit: Any) -> None:
    page = kit.login(client, kit.OWNER)
    out = client.post("/logga-ut", data={"csrf": kit.csrf_of(page.text)})
    assert out.url.path == "/logga-in" and "Du är utloggad" in out.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_pages_say_no_referrer_and_no_framing(client: TestClient, kit: Any) -> None:
    page = client.get(kit.link_path(SOMEONE_ELSES))
    assert page.headers["referrer-policy"] == "no-referrer"  # the link is a credential
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
