"""The pages: the agreement at a glance, the overdue review, a commitment, the revision, the parties' notices,
the yearly report and the calendar."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from icalendar import Calendar
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from engine import db
from engine.agreement import Agreement
from engine.clock import FixedClock
from engine.models import AgreementRow, Commitment, PartyEvent, Revision, TransitionRecord
from engine.review import review
from engine.revisions import decide
from notifications.dispatcher import deliver
from notifications.settings import Settings
from web.app import create_app

BORAS = Path(__file__).resolve().parents[2] / "config" / "boras-2015.yaml"


def rows(html: str, table: str) -> list[str]:
    section = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-commitment="([^"]+)"', section)


# -- the dashboard ---------------------------------------------------------------------------


def test_the_dashboard_shows_areas_insatser_and_both_commitments_with_state_and_due_date(
    client: TestClient, kit: Any
) -> None:
    page = kit.login(client, kit.OWNER).text
    assert "Samverkansöverenskommelse mellan Borås Stad och Polismyndigheten" in page
    for area in ("1. Struktur för det brottsförebyggande arbetet", "2. En trygg stad för alla"):
        assert area in page
    mbu = page.split("MBU – Människan bakom uniformen", 1)[1].split("</article>", 1)[0]
    assert mbu.count("data-commitment=") == 2 and "Kommunen" in mbu and "Polisen" in mbu
    assert 'data-state="pågående"' in mbu and 'class="state st-pagaende">pågående<' in mbu  # colour and word
    assert "Uppföljning 2026 senast 31 mars 2027 – om 30 dagar" in mbu
    assert "Brottsförebyggande rådet i Borås (BråB)" in mbu  # who is responsible
    assert '<span class="state st-pagaende">pågående</span> 28' in page  # the counts per state
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page


def test_the_dashboard_marks_a_late_follow_up(client: TestClient, clock: FixedClock, kit: Any) -> None:
    clock.advance_to(kit.at(2027, 4, 5))
    page = kit.login(client, kit.OWNER).text
    assert "Uppföljning 2026 senast 31 mars 2027 – 5 dagar sen" in page
    assert "28 försenade" in page


# -- the overdue review ----------------------------------------------------------------------


def test_the_overdue_page_shows_what_samverkan_overdue_shows(
    client: TestClient, boras_due: Engine, settings: Settings, clock: FixedClock, kit: Any
) -> None:
    deliver(boras_due, kit.ISSUED, settings)  # the reminders of 1 March go out
    clock.advance_to(kit.at(2027, 4, 20))
    kit.login(client, kit.OWNER)
    page = client.get("/forsenat")
    assert page.status_code == 200
    with db.transaction(boras_due) as s:
        expected = review(s, clock.now())
    assert rows(page.text, "forsenade") == [f.commitment for f in expected.follow_ups]
    assert len(expected.follow_ups) == 28
    first = page.text.split('<tr data-commitment="', 2)[1].split("</tr>", 1)[0]
    f = expected.follow_ups[0]
    for cell in (f.party_name, f.unit_name, f.effort, f.due, f">{f.days_late}<", ">1<"):
        assert cell in first  # one reminder sent


def test_with_nothing_late_the_review_says_so(client: TestClient, kit: Any) -> None:
    kit.login(client, kit.POLIS)
    assert "Inget är försenat, inga avvikelser, allt levererat." in client.get("/forsenat").text


# -- a commitment ----------------------------------------------------------------------------


def test_a_commitments_page_has_its_texts_measures_follow_ups_history_and_notices(
    client: TestClient, boras_due: Engine, settings: Settings, clock: FixedClock, kit: Any
) -> None:
    deliver(boras_due, kit.ISSUED, settings)
    kit.login(client, kit.OWNER)
    form = client.get("/atagande/mbu.kommun/uppfoljning")  # the short id works as in the CLI
    client.post(
        "/atagande/boras.mbu.kommun/uppfoljning",
        data={"csrf": kit.csrf_of(form.text), "m_utbildningar": "1", "kommentar": "En utbildning.", "timmar": "3"},
    )
    page = client.get("/atagande/boras.mbu.kommun").text
    assert "Finansiera utbildningens omkostnader" in page  # the commitment's text
    assert "Utbildning två gånger per år: antal genomförda utbildningar" in page and "minst 2" in page
    year = page.split('data-period="2026"', 1)[1].split("</section>", 1)[0]
    assert "1" in year and "under målet" in year and "En utbildning." in year and "3 timmar" in year
    history = page.split("<h2>Historik</h2>", 1)[1].split("</table>", 1)[0]
    assert "planerad → pågående" in history and "pågående → uppföljd" in history
    assert "Anna Andersson &lt;anna.andersson@boras.example&gt;" in history
    notices = page.split("Meddelanden om åtagandet", 1)[1]
    assert "påminnelse" in notices and "skickad" in notices and "avvikelse" in notices


def test_an_unknown_commitment_is_a_swedish_404(client: TestClient, kit: Any) -> None:
    kit.login(client, kit.OWNER)
    page = client.get("/atagande/boras.finns-inte.kommun")
    assert page.status_code == 404 and "Sidan finns inte" in page.text
    assert client.get("/ingen-sida").status_code == 404


# -- the revision ----------------------------------------------------------------------------


def upload_action(html: str) -> str:
    """The upload form's address: it carries the CSRF token, checked before the file is read."""
    found = re.search(r'action="(/revision/slutfor\?csrf=[^"]+)"', html)
    assert found, "no upload form in the page"
    return found.group(1).replace("&amp;", "&")


def revised_text() -> str:
    """MBU kept, Narkotika changed, Tobakstillsyn removed (as in tests/engine/test_revision_cycle.py)."""
    text = BORAS.read_text(encoding="utf-8")
    start, end = text.index("      - id: tobakstillsyn"), text.index("  - id: organiserad")
    text = text[:start] + text[end:]
    return text.replace("Spaningsarbete och lagföring av narkotikabrott.", "Spaning, lagföring och föräldramöten.")


def test_the_process_owner_starts_decides_and_completes_a_revision_with_the_new_file(
    client: TestClient, boras_due: Engine, clock: FixedClock, kit: Any
) -> None:
    clock.advance_to(kit.at(2027, 10, 1))
    kit.login(client, kit.OWNER)
    page = client.get("/revision")
    assert "Ingen revidering pågår" in page.text and "14 december 2027" in page.text
    page = client.post("/revision/inled", data={"csrf": kit.csrf_of(page.text), "overenskommelse": "boras"})
    assert "Revidering 4 är inledd" in page.text and "0 av 28 åtaganden har beslut" in page.text
    with db.transaction(boras_due) as s:
        for c in s.scalars(select(Commitment).where(Commitment.state != "avslutad")):
            if c.id == "boras.mbu.kommun":
                continue
            effort = c.id.split(".")[1]
            decision = {"narkotika": "change", "tobakstillsyn": "remove"}.get(effort, "keep")
            decide(s, c.id, decision, text=f"beslut för {effort}", by="BråB", now=clock.now())

    refused = client.post(
        upload_action(page.text),
        files={"fil": ("boras-2028.yaml", revised_text().encode(), "text/yaml")},
    )
    assert refused.status_code == 400 and "1 åtaganden saknar beslut: boras.mbu.kommun" in refused.text

    page = client.post(
        "/revision/beslut",
        data={
            "csrf": kit.csrf_of(page.text),
            "overenskommelse": "boras",
            "beslut:boras.mbu.kommun": "keep",
            "motivering:boras.mbu.kommun": "Fungerar",
        },
    )
    assert "1 beslut sparade." in page.text and "28 av 28 åtaganden har beslut" in page.text
    mbu_row = page.text.split('<tr data-commitment="boras.mbu.kommun">', 1)[1].split("</tr>", 1)[0]
    assert "behålls</strong> – Fungerar" in mbu_row and "Anna Andersson" in mbu_row

    broken = client.post(
        upload_action(page.text),
        files={"fil": ("trasig.yaml", b"format: 1\nagreement: [", "text/yaml")},
    )
    assert broken.status_code == 400 and "trasig.yaml:" in broken.text and "Inget har sparats" in broken.text

    done = client.post(
        upload_action(page.text),
        files={"fil": ("boras-2028.yaml", revised_text().encode(), "text/yaml")},
    )
    assert done.status_code == 200
    assert "Revidering 4 genomförd: planversion 2 antagen. 26 åtaganden fortsätter, 2 avslutade, 0 nya." in done.text
    with db.transaction(boras_due) as s:
        assert s.scalars(select(Revision)).one().completed_at is not None
        ended = s.get(Commitment, "boras.tobakstillsyn.kommun")
        assert ended is not None and ended.state == "avslutad"
        move = s.scalars(select(TransitionRecord).where(TransitionRecord.commitment_id == "boras.mbu.kommun")).all()[-1]
        assert (move.trigger, move.by) == ("reinstate", "Anna Andersson <anna.andersson@boras.example>")


def test_a_party_contact_sees_the_revision_but_cannot_decide(client: TestClient, kit: Any) -> None:
    kit.login(client, kit.POLIS)
    page = client.get("/revision")
    assert page.status_code == 200 and "Inled revidering" not in page.text
    refused = client.post("/revision/inled", data={"csrf": kit.csrf_of(page.text)})
    assert refused.status_code == 403


# -- changed conditions and termination ------------------------------------------------------


def test_the_parties_page_quotes_the_agreements_own_clauses_only_when_the_file_has_them(
    client: TestClient, boras_due: Engine, kit: Any
) -> None:
    page = kit.login(client, kit.POLIS, nasta="/parter").text
    assert "”Om förutsättningar för att följa överenskommelsen förändras ska den andra parten meddelas.”" in page
    assert "”Vardera part har rätt att säga upp överenskommelsen.”" in page
    with db.transaction(boras_due) as s:  # as if the file had neither clause
        row = s.get(AgreementRow, "boras")
        assert row is not None
        head = {k: v for k, v in row.document["agreement"].items() if not k.endswith("_clause")}
        row.document = {**row.document, "agreement": head}
    page = client.get("/parter").text
    assert "ska den andra parten meddelas" not in page and "Vardera part" not in page
    assert "Det som registreras här skickas genast till den andra partens kontakt" in page


def test_a_party_records_changed_conditions_and_the_other_party_is_told_at_once(
    boras_due: Engine, smtp_server: Any, clock: FixedClock, kit: Any
) -> None:
    app = create_app(boras_due, smtp_server.settings("http://testserver"), clock, secret=kit.SECRET)
    with TestClient(app) as client:
        kit.login(client, kit.POLIS)
        page = client.get("/parter")
        assert 'value="kommun"' not in page.text  # the police speaks for the police only
        done = client.post(
            "/parter/andrade-forutsattningar",
            data={
                "csrf": kit.csrf_of(page.text),
                "overenskommelse": "boras",
                "part": "polis",
                "text": "Lokalpolisområdet omorganiseras från 1 maj.",
                "atagande": ["boras.narkotika.polis", "boras.mbu.polis"],
            },
        )
        assert done.status_code == 200 and "Meddelandet har skickats." in done.text
        assert "Lokalpolisområdet omorganiseras" in done.text  # in the list of what has been recorded
        refused = client.post(
            "/parter/andrade-forutsattningar",
            data={"csrf": kit.csrf_of(done.text), "part": "kommun", "text": "Försök"},
        )
        assert refused.status_code == 403
    (mail,) = [m for m in smtp_server.inbox.messages if m["X-Samverkan-Kind"] == "change_notice"]
    assert mail["X-Envelope-To"] == "brab@boras.example"  # the kommun's contact, who is also the process owner
    assert "Lokalpolisområdet omorganiseras från 1 maj." in kit.body(mail)
    with db.transaction(boras_due) as s:
        event = s.scalars(select(PartyEvent)).one()
        assert event.by == "Per Polis <kommunpolisen@polisen.example>"
        assert sorted(event.commitments) == ["boras.mbu.polis", "boras.narkotika.polis"]
        flagged = s.get(Commitment, "boras.narkotika.polis")
        assert flagged is not None and flagged.revision_flag is not None


def test_a_termination_is_recorded_sent_and_needs_a_date_and_a_confirmation(
    boras_due: Engine, smtp_server: Any, clock: FixedClock, kit: Any
) -> None:
    app = create_app(boras_due, smtp_server.settings("http://testserver"), clock, secret=kit.SECRET)
    with TestClient(app) as client:
        page = kit.login(client, kit.OWNER)
        csrf = kit.csrf_of(page.text)
        base = {"csrf": csrf, "overenskommelse": "boras", "part": "kommun", "text": "Ny organisation."}
        no_date = client.post("/parter/uppsagning", data=base)
        assert no_date.status_code == 400 and "Ange från vilket datum" in no_date.text
        unconfirmed = client.post("/parter/uppsagning", data=base | {"fran": "2027-06-30"})
        assert unconfirmed.status_code == 400 and "Bekräfta" in unconfirmed.text
        past = client.post("/parter/uppsagning", data=base | {"fran": "2027-01-01", "bekrafta": "ja"})
        assert past.status_code == 400 and "1 januari 2027 har redan passerat" in past.text
        done = client.post("/parter/uppsagning", data=base | {"fran": "2027-06-30", "bekrafta": "ja"})
        assert done.status_code == 200
        assert "alla åtaganden avslutas 30 juni 2027" in done.text and "kommunpolis@polisen.example" in done.text
    (mail,) = [m for m in smtp_server.inbox.messages if m["X-Samverkan-Kind"] == "termination_notice"]
    assert "kommunpolis@polisen.example" in mail["X-Envelope-To"]
    with db.transaction(boras_due) as s:
        agreement = s.get(AgreementRow, "boras")
        assert agreement is not None and str(agreement.terminates) == "2027-06-30"


# -- the report and the calendar -------------------------------------------------------------


def test_the_yearly_report_and_the_calendar_links(client: TestClient, kit: Any) -> None:
    kit.login(client, kit.OWNER)
    index = client.get("/rapport").text
    assert "/rapport/2026.html?overenskommelse=boras" in index and "/kalender.ics?enhet=fritid-folkhalsa" in index
    html = client.get("/rapport/2026.html?overenskommelse=boras")
    assert html.status_code == 200 and "Årsrapport 2026" in html.text
    assert "style-src 'unsafe-inline'" in html.headers["content-security-policy"]
    csv = client.get("/rapport/2026.csv")
    assert csv.headers["content-type"].startswith("text/csv") and "attachment" in csv.headers["content-disposition"]
    assert csv.content.startswith(b"\xef\xbb\xbfOmr\xc3\xa5de nr;")  # for Swedish Excel
    assert client.get("/rapport/2026.csv?csv=plain").text.startswith("area_number,area,")
    for fmt, media in (("pdf", "application/pdf"), ("docx", "wordprocessingml"), ("xlsx", "spreadsheetml")):
        assert f"/rapport/2026.{fmt}?overenskommelse=boras" in index
        answer = client.get(f"/rapport/2026.{fmt}?overenskommelse=boras")
        assert answer.status_code == 200 and media in answer.headers["content-type"], fmt
        assert f'filename="arsrapport-boras-2026.{fmt}"' in answer.headers["content-disposition"]
    ics = client.get("/kalender.ics?enhet=fritid-folkhalsa")
    assert ics.headers["content-type"].startswith("text/calendar")
    events = list(Calendar.from_ical(ics.content).walk("VEVENT"))
    assert len(events) == 4 + 1  # the unit's four follow-ups and the revision
    # Each event links its form in the web (the settings' base_url), as in the mail.
    urls = {str(e["url"]) for e in events}
    assert "http://testserver/revision" in urls
    assert "http://testserver/atagande/boras.bra-samordning.kommun/uppfoljning" in urls
    assert client.get("/rapport/2026.odt").status_code == 404


def test_the_office_formats_of_the_report_are_refused_to_a_unit_contact_and_need_a_sign_in(
    client: TestClient, kit: Any
) -> None:
    for fmt in ("pdf", "docx", "xlsx"):
        answer = client.get(f"/rapport/2026.{fmt}", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/logga-in"), fmt
    kit.login(client, kit.FRITID)
    for fmt in ("pdf", "docx", "xlsx"):
        answer = client.get(f"/rapport/2026.{fmt}")
        assert answer.status_code == 403 and "attachment" not in answer.headers.get("content-disposition", ""), fmt


def test_a_unit_contact_gets_its_own_calendar_whatever_it_asks_for(client: TestClient, kit: Any) -> None:
    kit.login(client, kit.FRITID)
    ics = client.get("/kalender.ics?enhet=kommunpolis")
    summaries = [str(e["summary"]) for e in Calendar.from_ical(ics.content).walk("VEVENT")]
    assert len(summaries) == 5 and not any("(polis)" in s for s in summaries)


def test_a_second_agreement_in_the_same_database_is_shown_beside_the_first(
    client: TestClient, boras_due: Engine, minimal: Agreement, kit: Any
) -> None:
    from engine.plan import load_plan

    with db.transaction(boras_due) as s:
        load_plan(s, minimal, now=kit.at(2027, 2, 1))
    page = kit.login(client, kit.OWNER).text
    assert 'data-agreement="boras"' in page and 'data-agreement="exempel"' in page
    revision = client.get("/revision?overenskommelse=exempel").text
    assert "Exempelstad" in revision and '<a href="/revision?overenskommelse=boras">boras</a>' in revision


def test_an_unexpected_error_is_a_swedish_page_without_a_traceback(app: Any, monkeypatch: Any, kit: Any) -> None:
    from engine.api import pages_dashboard as views

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("hemlig intern detalj")

    monkeypatch.setattr(views, "dashboard", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        page = kit.login(client, kit.OWNER)
    assert page.status_code == 500
    assert "Något gick fel" in page.text and "inget sparades" in page.text
    assert "Traceback" not in page.text and "hemlig intern detalj" not in page.text
