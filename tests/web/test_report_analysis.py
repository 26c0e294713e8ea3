"""The analysis and conclusions on /rapport: the process owner writes them, the police's contact reads them.

The web's Borås (tests/web/conftest.py) on 1 March 2027: the page offers last year's, 2026.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from engine import db
from engine.api import commands
from engine.models import ReportAnalysis

TEXT = "Året gick <b>bra</b> & enligt plan.\nNästa rad.\n\n<script>alert(1)</script>"


def _count(engine: Engine) -> int:
    with db.transaction(engine) as s:
        return int(s.scalar(select(func.count()).select_from(ReportAnalysis)) or 0)


def _post(client: TestClient, kit: Any, **fields: str) -> Any:
    page = client.get("/rapport")
    data = {"csrf": kit.csrf_of(page.text), "overenskommelse": "boras", "period": "2026", "version": "0"}
    return client.post("/rapport/analys", data=data | fields, follow_redirects=False)


def test_the_owner_writes_the_analysis_and_every_report_shows_it_escaped(
    client: TestClient, boras_due: Engine, kit: Any
) -> None:
    kit.login(client, kit.OWNER)
    form = client.get("/rapport").text
    assert "Analys och slutsatser för 2026" in form and "Ingen analys är skriven för 2026 ännu." in form
    assert 'name="version" value="0"' in form and "data-analysis-form" in form
    saved = _post(client, kit, analys=TEXT)
    assert saved.status_code == 303 and saved.headers["location"] == "/rapport?overenskommelse=boras&period=2026#analys"
    page = client.get(saved.headers["location"]).text
    assert "Analysen för 2026 är sparad (version 1, 1 mars 2027)." in page
    assert "Året gick &lt;b&gt;bra&lt;/b&gt; &amp; enligt plan.<br>Nästa rad.</p>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "Senast ändrad 1 mars 2027 av Anna Andersson (version 1)." in page
    assert 'name="version" value="1"' in page  # the next save replaces version 1
    report = client.get("/rapport/2026.html?overenskommelse=boras").text
    assert (
        "Året gick &lt;b&gt;bra&lt;/b&gt; &amp; enligt plan.<br>Nästa rad.</p>" in report and "<script>" not in report
    )
    assert "Senast ändrad 1 mars 2027 av Anna Andersson." in report
    # The report links to the accessibility statement under the web's address.
    statement = "http://testserver/tillganglighet"
    assert f'Tillgänglighetsredogörelse: <a href="{statement}">{statement}</a>' in report
    assert "Året gick" in client.get("/rapport/2026.md").text
    assert "Året gick" not in client.get("/rapport/2027.md").text  # another period's report


def test_a_second_save_is_the_next_version_and_the_earlier_is_listed(client: TestClient, kit: Any) -> None:
    kit.login(client, kit.OWNER)
    _post(client, kit, analys="Första utkastet.")
    assert _post(client, kit, analys="Slutlig analys.", version="1").status_code == 303
    page = client.get("/rapport").text
    assert "Slutlig analys." in page and "Tidigare versioner (1)" in page and "Första utkastet." in page
    assert "version 2" in page


def test_the_party_contact_reads_the_analysis_but_has_no_form_and_may_not_post_one(
    client: TestClient, boras_due: Engine, kit: Any, clock: Any
) -> None:
    commands.save_analysis(boras_due, period=2026, text="BråB:s analys.", by="Anna Andersson", now=clock.now())
    page = kit.login(client, kit.POLIS).text
    page = client.get("/rapport").text
    assert "BråB:s analys." in page and "Senast ändrad 1 mars 2027 av Anna Andersson" in page
    assert "data-analysis-form" not in page and "/rapport/analys" not in page
    data = {
        "csrf": kit.csrf_of(page),
        "overenskommelse": "boras",
        "period": "2026",
        "version": "1",
        "analys": "Polisens",
    }
    refused = client.post("/rapport/analys", data=data)
    assert refused.status_code == 403 and "Ingen behörighet" in refused.text
    assert _count(boras_due) == 1


def test_a_form_opened_before_someone_else_saved_is_refused_and_keeps_what_was_written(
    client: TestClient, boras_due: Engine, kit: Any, clock: Any
) -> None:
    kit.login(client, kit.OWNER)
    page = client.get("/rapport")  # opened on version 0
    commands.save_analysis(boras_due, period=2026, text="Pers analys.", by="Per", now=clock.now(), version=0)
    data = {"csrf": kit.csrf_of(page.text), "overenskommelse": "boras", "period": "2026", "version": "0"}
    stale = client.post("/rapport/analys", data=data | {"analys": "Annas analys."})
    assert stale.status_code == 409
    assert 'id="felsammanfattning" autofocus' in stale.text and "Analysen är inte sparad." in stale.text
    assert "har ändrats sedan formuläret öppnades (nu version 1, senast ändrad 1 mars 2027 av Per)" in stale.text
    assert ">Annas analys.</textarea>" in stale.text  # what was written is not lost
    assert "Pers analys." in stale.text  # and the version saved meanwhile is shown above it
    assert _count(boras_due) == 1


def test_an_empty_analysis_is_refused_beside_its_field_and_nothing_is_saved(
    client: TestClient, boras_due: Engine, kit: Any
) -> None:
    kit.login(client, kit.OWNER)
    empty = _post(client, kit, analys=" \r\n ")
    assert empty.status_code == 400
    assert '<a href="#analys-text">Analys och slutsatser: Analysen är tom; skriv minst en mening.</a>' in empty.text
    assert 'aria-invalid="true" aria-describedby="analys-fel"' in empty.text
    control = _post(client, kit, analys="Rad\x07")
    assert control.status_code == 400
    assert "Otillåtet tecken U+0007 (styrtecken får inte stå i analysen) (rad 1)." in control.text
    assert _count(boras_due) == 0


def test_the_analysis_form_is_refused_without_the_sessions_csrf_token(
    client: TestClient, boras_due: Engine, kit: Any
) -> None:
    kit.login(client, kit.OWNER)
    data = {"overenskommelse": "boras", "period": "2026", "version": "0", "analys": "Text"}
    for csrf in ({}, {"csrf": "en-gissning"}):
        page = client.post("/rapport/analys", data=data | csrf)
        assert page.status_code == 403 and "Formuläret har gått ut" in page.text
    assert _count(boras_due) == 0


def test_a_report_asked_for_again_is_served_from_the_rendered_file_until_it_changes(
    client: TestClient, app: Any, boras_due: Engine, kit: Any, clock: Any
) -> None:
    kit.login(client, kit.OWNER)
    rendered = app.state.web.rendered
    first = client.get("/rapport/2026.md").content
    assert client.get("/rapport/2026.md").content == first and len(rendered) == 1
    commands.save_analysis(boras_due, period=2026, text="Ny analys.", by="Anna", now=clock.now())
    changed = client.get("/rapport/2026.md").content
    assert changed != first and b"Ny analys." in changed and len(rendered) == 2
    values = {"antal-moten": 10, "representation": "Centrala BRÅ"}
    commands.record_follow_up(
        boras_due,
        "boras.bra-samordning.kommun",
        period=2026,
        values=values,
        comment="Tio möten",
        by="Frida",
        now=clock.now(),
    )
    assert b"Tio m\xc3\xb6ten" in client.get("/rapport/2026.md").content and len(rendered) == 3


def test_in_the_browser_the_owner_writes_the_analysis_and_opens_the_report_with_it(
    live: Any, page: Any, kit: Any
) -> None:
    from playwright.sync_api import expect

    kit.sign_in(page, live.url, kit.OWNER, kit.PASSWORD)
    page.goto(f"{live.url}/rapport")
    expect(page.locator("[data-analysis]")).to_have_text("Ingen analys är skriven för 2026 ännu.")
    page.fill(
        "#analys-text",
        "Året 2026 följdes alla åtaganden upp i tid.\n\nSlutsatser: samordningen fortsätter som i dag.",
    )
    kit.shot(page, "report-analysis", full_page=False)
    page.click("[data-analysis-form] button[type=submit]")
    expect(page.locator(".flash")).to_have_text("Analysen för 2026 är sparad (version 1, 1 mars 2027).")
    expect(page.locator("[data-analysis] p").first).to_have_text("Året 2026 följdes alla åtaganden upp i tid.")
    page.goto(f"{live.url}/rapport/2026.html")
    expect(page.locator("section.analysis p")).to_have_text(
        [
            "Året 2026 följdes alla åtaganden upp i tid.",
            "Slutsatser: samordningen fortsätter som i dag.",
            "Senast ändrad 1 mars 2027 av Anna Andersson.",
        ]
    )
