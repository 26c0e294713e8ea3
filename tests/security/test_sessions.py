"""Sessions end when they should, and the secret that signs them is not readable by others (issue 14).

A session cookie saved before signing out, before a password change or before the user
was removed opened the dashboard and passed CSRF. Each user now has a session version
in the database that the signed cookie carries; sign-out, a password change (web or
CLI) and removal raise or remove it, so every saved cookie of that user stops working.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import Engine

from notifications.mailers.file import FileMailer
from notifications.message import Built
from notifications.settings import Settings
from tests.security.conftest import Cli, Live
from tests.web.conftest import SECRET, Kit, LiveServer
from web.app import create_app

BORAS = Path(__file__).resolve().parents[2] / "config" / "boras-2015.yaml"


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def saved(client: httpx.Client, live: Live) -> httpx.Client:
    """Another client holding a copy of ``client``'s cookies, as an attacker who copied them would."""
    copy = live.client()
    for cookie in client.cookies.jar:
        copy.cookies.set(cookie.name, cookie.value or "")
    return copy


def assert_signed_out(client: httpx.Client, csrf: str) -> None:
    """The cookie opens nothing: the dashboard sends it to sign in, and a POST does not pass."""
    answer = client.get("/")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/logga-in"), answer.text
    started = client.post("/revision/inled", data={"csrf": csrf})
    assert started.status_code == 303 and started.headers["location"].startswith("/logga-in"), started.text


def dashboard_csrf(client: httpx.Client) -> str:
    page = client.get("/")
    assert page.status_code == 200, page.text
    return Kit.csrf_of(page.text)


# -- sign-out --------------------------------------------------------------------------------


def test_a_cookie_saved_before_signing_out_opens_nothing_after(live: Live) -> None:
    with closing(live.signed_in(Kit.OWNER)) as c, closing(live.signed_in(Kit.OWNER)) as other_device:
        csrf = dashboard_csrf(c)
        with saved(c, live) as copy:
            assert c.post("/logga-ut", data={"csrf": csrf}).status_code == 303
            assert_signed_out(copy, csrf)
        # Signing out ends every session of the user, not only this browser's.
        assert_signed_out(other_device, csrf)
    with closing(live.signed_in(Kit.OWNER)) as again:
        assert again.get("/").status_code == 200


def test_signing_out_one_user_leaves_the_others_signed_in(live: Live) -> None:
    with closing(live.signed_in(Kit.OWNER)) as owner, closing(live.signed_in(Kit.POLIS)) as polis:
        assert owner.post("/logga-ut", data={"csrf": dashboard_csrf(owner)}).status_code == 303
        assert polis.get("/").status_code == 200


def test_a_cookie_from_before_sign_in_does_not_become_signed_in(live: Live) -> None:
    with live.client() as c:
        page = c.get("/logga-in")
        with saved(c, live) as planted:
            data = {"csrf": Kit.csrf_of(page.text), "email": Kit.OWNER, "losenord": Kit.PASSWORD, "nasta": "/"}
            assert c.post("/logga-in", data=data).status_code == 303
            assert c.get("/").status_code == 200
            assert planted.get("/").status_code == 303


# -- a password change -----------------------------------------------------------------------


def change_password(c: httpx.Client, current: str, new: str, again: str | None = None) -> httpx.Response:
    form = c.get("/konto/losenord")
    assert form.status_code == 200, form.text
    return c.post(
        "/konto/losenord",
        data={"csrf": Kit.csrf_of(form.text), "nuvarande": current, "nytt": new, "nytt_igen": again or new},
    )


def test_changing_the_password_on_the_web_ends_every_other_session(live: Live) -> None:
    new = "ett nytt långt lösenord"
    with closing(live.signed_in(Kit.FRITID)) as c, closing(live.signed_in(Kit.FRITID)) as other_device:
        csrf = dashboard_csrf(other_device)
        with saved(c, live) as copy:
            answer = change_password(c, Kit.PASSWORD, new)
            assert answer.status_code == 303, answer.text
            assert c.get("/").status_code == 200  # the browser that changed it stays signed in
            assert_signed_out(copy, csrf)
            assert_signed_out(other_device, csrf)
    with live.client() as c:
        page = c.get("/logga-in")
        data = {"csrf": Kit.csrf_of(page.text), "email": Kit.FRITID, "losenord": Kit.PASSWORD, "nasta": "/"}
        assert c.post("/logga-in", data=data).status_code == 401
    live.signed_in(Kit.FRITID, new).close()


@pytest.mark.parametrize(
    ("current", "new", "again", "message"),
    [
        ("fel lösenord 123", "ett nytt långt lösenord", None, "Det nuvarande lösenordet stämmer inte"),
        (Kit.PASSWORD, "kort", None, "minst 10 tecken"),
        (Kit.PASSWORD, "ett nytt långt lösenord", "ett annat långt lösenord", "De två nya lösenorden är olika"),
    ],
)
def test_a_password_change_that_cannot_be_made_says_why_and_changes_nothing(
    live: Live, current: str, new: str, again: str | None, message: str
) -> None:
    with closing(live.signed_in(Kit.POLIS)) as c, closing(live.signed_in(Kit.POLIS)) as other_device:
        answer = change_password(c, current, new, again)
        assert answer.status_code in (400, 401), answer.text
        assert message in answer.text
        assert other_device.get("/").status_code == 200
    live.signed_in(Kit.POLIS).close()


def test_the_password_change_needs_the_form_token(live: Live) -> None:
    with closing(live.signed_in(Kit.POLIS)) as c:
        data = {"csrf": "gissad", "nuvarande": Kit.PASSWORD, "nytt": "ett nytt långt lösenord"}
        answer = c.post("/konto/losenord", data={**data, "nytt_igen": data["nytt"]})
        assert answer.status_code == 403
    live.signed_in(Kit.POLIS).close()


def test_the_password_form_is_labelled(live: Live) -> None:
    with closing(live.signed_in(Kit.TEKNISKA)) as c:
        html = c.get("/konto/losenord").text
    assert "<h1>Byt lösenord</h1>" in html
    for field in ("nuvarande", "nytt", "nytt_igen"):
        assert f'<label for="{field}">' in html and f'id="{field}" name="{field}"' in html


def test_user_passwd_on_the_cli_ends_every_session(live: Live, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    with closing(live.signed_in(Kit.TEKNISKA)) as c:
        csrf = dashboard_csrf(c)
        monkeypatch.setenv("SAMVERKAN_PASSWORD", "ett nytt långt lösenord")
        code, out, err = cli("user", "passwd", Kit.TEKNISKA, "--db", url_of(live.engine))
        assert (code, err) == (0, "")
        assert "Lösenordet för tekniska@boras.example är bytt" in out
        assert_signed_out(c, csrf)
    live.signed_in(Kit.TEKNISKA, "ett nytt långt lösenord").close()


# -- removing a user -------------------------------------------------------------------------


def test_user_remove_on_the_cli_ends_every_session(live: Live, cli: Cli) -> None:
    with closing(live.signed_in(Kit.TEKNISKA)) as c:
        csrf = dashboard_csrf(c)
        code, out, err = cli("user", "remove", "Tekniska@Boras.example", "--db", url_of(live.engine))
        assert (code, err) == (0, "")
        assert "Användaren tekniska@boras.example är borttagen" in out
        assert_signed_out(c, csrf)


def test_the_process_owner_removes_a_user_on_the_web_and_their_sessions_end(live: Live) -> None:
    with closing(live.signed_in(Kit.OWNER)) as owner, closing(live.signed_in(Kit.FRITID)) as fritid:
        csrf = dashboard_csrf(fritid)
        page = owner.get("/anvandare")
        assert page.status_code == 200, page.text
        assert "<h1>Användare</h1>" in page.text and Kit.FRITID in page.text
        answer = owner.post("/anvandare/ta-bort", data={"csrf": Kit.csrf_of(page.text), "email": Kit.FRITID})
        assert answer.status_code == 303 and answer.headers["location"] == "/anvandare"
        after = owner.get("/anvandare").text
        assert "Användaren fritid@boras.example är borttagen." in after
        assert f"<td>{Kit.FRITID}</td>" not in after
        assert_signed_out(fritid, csrf)


def test_only_the_process_owner_sees_and_removes_users(live: Live) -> None:
    with closing(live.signed_in(Kit.POLIS)) as polis, closing(live.signed_in(Kit.FRITID)) as fritid:
        csrf = dashboard_csrf(polis)
        assert polis.get("/anvandare").status_code == 403
        assert polis.post("/anvandare/ta-bort", data={"csrf": csrf, "email": Kit.FRITID}).status_code == 403
        assert fritid.get("/").status_code == 200
    with closing(live.signed_in(Kit.OWNER)) as owner:
        page = owner.get("/anvandare")
        gone = owner.post("/anvandare/ta-bort", data={"csrf": "gissad", "email": Kit.FRITID})
        assert gone.status_code == 403
        yourself = owner.post("/anvandare/ta-bort", data={"csrf": Kit.csrf_of(page.text), "email": Kit.OWNER})
        assert yourself.status_code == 400 and "Du kan inte ta bort dig själv" in yourself.text
        unknown = owner.post("/anvandare/ta-bort", data={"csrf": Kit.csrf_of(page.text), "email": "ingen@x.example"})
        assert unknown.status_code == 400 and "Ingen användare med adressen ingen@x.example" in unknown.text
        assert owner.get("/").status_code == 200


# -- the cookie's name -----------------------------------------------------------------------


@pytest.fixture
def served(boras_due: Engine, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Serve the app with the given base_url; its address."""
    started: list[LiveServer] = []

    def serve(base_url: str) -> str:
        settings = Settings(mailer="file", mail_dir=tmp_path / "outbox", base_url=base_url)
        server = Kit.start_server(create_app(boras_due, settings, None, secret=SECRET))
        started.append(server)
        return server.url

    yield serve
    for server in started:
        Kit.stop_server(server)


def sign_in_cookie(url: str) -> str:
    """The Set-Cookie of a sign-in; the first page's cookie is sent back by hand, Secure or not."""
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as c:
        page = c.get("/logga-in")
        first = page.headers["set-cookie"].split(";")[0]
        data = {"csrf": Kit.csrf_of(page.text), "email": Kit.OWNER, "losenord": Kit.PASSWORD, "nasta": "/"}
        c.cookies.clear()
        answer = c.post("/logga-in", data=data, headers={"Cookie": first})
        assert answer.status_code == 303, answer.text
        return str(answer.headers["set-cookie"])


def test_the_session_cookie_is_host_prefixed_and_secure_behind_https(served: Callable[[str], str]) -> None:
    cookie = sign_in_cookie(served("https://samverkan.boras.example"))
    name, _, rest = cookie.partition("=")
    attributes = [a.strip().lower() for a in rest.split(";")[1:]]
    assert name == "__Host-samverkan_session"
    assert "secure" in attributes and "path=/" in attributes
    assert not any(a.startswith("domain") for a in attributes)


def test_the_session_cookie_is_plain_over_http(served: Callable[[str], str]) -> None:
    cookie = sign_in_cookie(served("http://127.0.0.1:8080"))
    name, _, rest = cookie.partition("=")
    assert name == "samverkan_session"
    assert "secure" not in [a.strip().lower() for a in rest.split(";")[1:]]


# -- the secret on disk ----------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask (022), under which files were created world-readable."""
    before = os.umask(0o022)
    yield
    os.umask(before)


@pytest.mark.usefixtures("open_umask")
def test_a_new_sqlite_database_and_its_journal_are_readable_by_the_owner_only(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "ny.db"
    code, _out, err = cli("init", "--db", f"sqlite:///{path}", "--config", str(BORAS))
    assert (code, err) == (0, "")
    assert mode(path) == 0o600
    # The rollback journal SQLite writes during a transaction holds the same pages.
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE web_secrets SET value = value")
        conn.execute("CREATE TABLE t (x)")
        journal = tmp_path / "ny.db-journal"
        assert journal.exists()
        assert mode(journal) == 0o600
        conn.execute("ROLLBACK")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE u (x)")
        assert mode(tmp_path / "ny.db-wal") == 0o600
    finally:
        conn.close()


@pytest.mark.usefixtures("open_umask")
def test_the_eml_folder_and_its_mails_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    mail = Built(
        raw=b"Subject: x\r\n\r\nx\r\n",
        sender="a@x.example",
        recipients=("b@x.example",),
        message_id="<1@x>",
        kind="reminder",
    )
    results = asyncio.run(FileMailer(folder).send_all([mail]))
    assert [r.status for r in results] == ["sent"]
    assert mode(folder) == 0o700
    (written,) = folder.iterdir()
    assert mode(written) == 0o600
