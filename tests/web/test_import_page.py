"""/import: the owner uploads the signed document, reads the draft and its summary, downloads it,
or loads it as a new agreement after confirming; the page in Chromium, with axe-core's AA rules.

The fixtures are tests/web/conftest.py's: Borås loaded, the owner and a party contact signed in.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from engine.api import pages_agreement
from tests.engine.importer_docs import exempelby_docx

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "tests" / "data" / "import" / "boras-2015.txt"
WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def _upload(client: TestClient, kit: Any, name: str, content: bytes) -> Any:
    form = client.get("/import")
    action = html.unescape(re.search(r'action="(/import/dokument\?csrf=[^"]+)"', form.text).group(1))  # type: ignore[union-attr]
    return client.post(action, files={"dokument": (name, content, "application/octet-stream")})


def _hidden(page_html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page_html)
    assert found, name
    return html.unescape(found.group(1))


def test_only_the_owner_reaches_the_page(client: TestClient, kit: Any) -> None:
    kit.login(client, kit.POLIS)
    assert client.get("/import").status_code == 403
    kit.login(client, kit.OWNER)
    page = client.get("/import")
    assert page.status_code == 200 and 'action="/import/dokument?csrf=' in page.text
    assert 'href="/import" aria-current="page"' in page.text  # in the owner's menu


def test_the_seed_uploaded_shows_the_draft_and_the_summary_and_downloads_as_it_was_shown(
    client: TestClient, kit: Any
) -> None:
    kit.login(client, kit.OWNER)
    page = _upload(client, kit, "boras-2015.txt", SEED.read_bytes())
    assert page.status_code == 200
    assert "Utkast: 4 samverkansområden, 15 insatser, 30 åtaganden, 9 enheter." in page.text
    assert "raden fortsatte efter en sidbrytning (rad 54) och har lagts ihop (rad 52, kolumn 1)" in page.text
    draft = _hidden(page.text, "utkast")
    assert "# KONTROLLERA:" in draft and draft.count("# TODO") == 9
    # The browser sends the hidden field's line breaks as CR LF; the file comes back as it was made.
    got = client.post(
        "/import/utkast.yaml", data={"csrf": kit.csrf_of(page.text), "utkast": draft.replace("\n", "\r\n")}
    )
    assert got.status_code == 200 and got.content.decode("utf-8") == draft
    assert got.headers["content-disposition"] == 'attachment; filename="boras-utkast.yaml"'


def test_loading_asks_for_confirmation_refuses_a_taken_id_and_then_loads_a_new_agreement(
    client: TestClient, kit: Any, boras_due: Any
) -> None:
    kit.login(client, kit.OWNER)
    page = _upload(client, kit, "exempelby.docx", exempelby_docx())
    form = {
        "csrf": kit.csrf_of(page.text),
        "utkast": _hidden(page.text, "utkast"),
        "kalla": "exempelby.docx",
        "sammanfattning": _hidden(page.text, "sammanfattning"),
    }
    unconfirmed = client.post("/import/las-in", data=form | {"id": "exempelby"})
    assert unconfirmed.status_code == 400 and "Bekräfta att du har gått igenom utkastet" in unconfirmed.text
    assert "Utkast: 3 samverkansområden" in unconfirmed.text  # the summary is still shown
    taken = client.post("/import/las-in", data=form | {"id": "boras", "granskat": "ja"})
    assert taken.status_code == 400 and "Det finns redan en överenskommelse med id &#39;boras&#39;" in taken.text
    loaded = client.post("/import/las-in", data=form | {"id": "exempelby", "granskat": "ja"}, follow_redirects=False)
    assert loaded.status_code == 303 and loaded.headers["location"] == "/?overenskommelse=exempelby"
    shown = client.get(loaded.headers["location"])
    assert "Överenskommelsen &#39;exempelby&#39; är inläst: 3 samverkansområden, 5 insatser, 8 åtaganden" in shown.text
    ids = {a.id for a in pages_agreement.agreement_choice(boras_due, None).agreements}
    assert ids == {"boras", "exempelby"}


def test_what_is_not_a_document_is_one_line_and_nothing_is_loaded(client: TestClient, kit: Any, boras_due: Any) -> None:
    kit.login(client, kit.OWNER)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
    for name, content, said in (
        ("bild.docx", png, "bild.docx: är inget Word-dokument"),
        ("tom.txt", b"", "Välj överenskommelsens dokument"),
        ("plan.txt", b"Bara text.\n", "plan.txt: hittar ingen åtagandeplan"),
    ):
        page = _upload(client, kit, name, content)
        assert page.status_code == 400 and said in page.text and "Inget har sparats" in page.text
    assert {a.id for a in pages_agreement.agreement_choice(boras_due, None).agreements} == {"boras"}


def test_in_the_browser_the_owner_uploads_reads_the_summary_and_downloads_the_draft(
    live: Any, page: Any, kit: Any, tmp_path: Path
) -> None:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect

    kit.sign_in(page, live.url, kit.OWNER, kit.PASSWORD)
    page.goto(f"{live.url}/")
    page.click("nav >> text=Ny från dokument")
    expect(page.locator("h1")).to_have_text("Börja från ert dokument")
    page.set_input_files("#dokument", str(SEED))
    page.click("button:has-text('Gör ett utkast')")
    expect(page.locator("[data-summary-head]")).to_have_text(
        "Utkast: 4 samverkansområden, 15 insatser, 30 åtaganden, 9 enheter."
    )
    expect(page.locator("[data-guessed] li").first).to_contain_text("id:t är gissat")
    expect(page.locator("[data-draft]")).to_contain_text("# KONTROLLERA:")
    violations = [v["id"] for v in Axe().run(page, options=WCAG_21_AA).response["violations"]]
    assert violations == []
    with page.expect_download() as info:
        page.click("button:has-text('Ladda ner utkastet (YAML)')")
    download = info.value
    assert download.suggested_filename == "boras-utkast.yaml"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.rstrip("\n") == page.locator("[data-draft]").inner_text().rstrip("\n")  # as shown
    assert "\r" not in text and "areas:" in text


def test_a_document_over_10_mb_is_refused_and_a_draft_over_the_usual_form_cap_still_downloads(
    client: TestClient, kit: Any
) -> None:
    kit.login(client, kit.OWNER)
    page = _upload(client, kit, "stor.docx", b"PK\x03\x04" + bytes(10 * 1024 * 1024 + 128 * 1024))
    assert page.status_code == 413 and "Filen får vara högst 10 MB" in page.text
    # A large agreement's draft, percent-encoded, passes the 64 kB other forms are held to.
    draft = "format: 1\n" + "# " + "å" * 60_000 + "\n"
    got = client.post("/import/utkast.yaml", data={"csrf": kit.csrf_of(client.get("/import").text), "utkast": draft})
    assert got.status_code == 200 and got.content.decode("utf-8") == draft
