"""Web request handling under attack (issue 14): the CSRF field, bodies, headers, used links, double submits.

Every test talks to the real server (uvicorn on 127.0.0.1, the ``live`` fixture). Where
the question is *when* the server answers (before reading a body or after), the test
speaks HTTP over a plain socket: it sends the head and a little of the body, and
expects the answer while the rest is still unsent. Bodies stay at a few MB at most.
"""

from __future__ import annotations

import logging
import re
import select
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx2 as httpx
import pytest
from sqlalchemy import event, func
from sqlalchemy import select as sql_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.routing import Route

from engine import db
from engine.api import commands
from engine.models import FollowUp
from notifications.settings import Settings
from rules.errors import InvalidValue
from samverkan.cli import main
from tests.security.conftest import Cli, Live
from tests.web.conftest import SECRET, Kit, start_server, stop_server
from web.app import create_app

MBU = "boras.mbu.kommun"  # one count measure (utbildningar); its unit is BråB
BRA = "boras.bra-samordning.kommun"  # its unit is Fritids- och folkhälsoförvaltningen
BRA_UNIT_EMAIL = "fritid-folkhalsa@boras.example"
OWNER_EMAIL = "brab@boras.example"  # the process owner's unit: whom a receipt names for corrections
EXPIRED = "Formuläret har gått ut"
ALREADY = "Uppföljningen är redan registrerad"


# -- plain HTTP over a socket ----------------------------------------------------------------


class Raw:
    """One HTTP/1.1 connection to the live server, written to by hand."""

    def __init__(self, live: Live) -> None:
        url = urlsplit(live.url)
        assert url.hostname is not None and url.port is not None
        self.host = f"{url.hostname}:{url.port}"
        self.sock = socket.create_connection((url.hostname, url.port), timeout=10)

    def send_head(self, method: str, path: str, headers: dict[str, str]) -> None:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def answered(self, wait: float) -> bool:
        readable, _, _ = select.select([self.sock], [], [], wait)
        return bool(readable)

    def send_until_answered(self, chunks: int, chunk: bytes, *, chunked: bool) -> int:
        """Send up to ``chunks`` pieces of the body, stopping once the server answers; the bytes sent."""
        sent = 0
        for _ in range(chunks):
            if self.answered(0.05):  # paced, so what the kernel buffers does not outrun the server's answer
                return sent
            piece = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk
            try:
                self.sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                return sent  # the server answered and closed: the answer is read next
            sent += len(chunk)
        return sent

    def status(self) -> tuple[int, str]:
        """The answer's status code and head; fails when the server has not answered within 10 s."""
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                got = self.sock.recv(65536)
                if not got:
                    break
                data += got
        except TimeoutError:
            pytest.fail("the server did not answer before the body was sent (it is waiting to read it)")
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        assert head.startswith("HTTP/1.1 "), head
        return int(head.split()[1]), head

    def close(self) -> None:
        self.sock.close()


def session_cookie(client: httpx.Client) -> str:
    value = client.cookies.get("samverkan_session")
    assert value
    return f"samverkan_session={value}"


def owner_with_revision_page(live: Live) -> tuple[httpx.Client, str]:
    c = live.signed_in(Kit.OWNER)
    page = c.get("/revision")
    assert page.status_code == 200
    return c, Kit.csrf_of(page.text)


MULTIPART = "multipart/form-data; boundary=grans"
PART_HEAD = (
    b'--grans\r\nContent-Disposition: form-data; name="fil"; filename="stor.yaml"\r\nContent-Type: text/yaml\r\n\r\n'
)


# -- 1. a CSRF field that is not ASCII -------------------------------------------------------


def test_a_non_ascii_csrf_field_is_refused_as_an_expired_form_not_a_server_error(live: Live) -> None:
    with live.client() as anonymous:
        anonymous.get("/logga-in")
        answer = anonymous.post("/logga-in", data={"csrf": "å", "email": Kit.OWNER, "losenord": Kit.PASSWORD})
        assert answer.status_code == 403 and EXPIRED in answer.text
    with closing(live.signed_in(Kit.OWNER)) as owner:
        answer = owner.post("/revision/beslut", data={"csrf": "å", "atagande": MBU, "beslut": "keep"})
        assert answer.status_code == 403 and EXPIRED in answer.text
    with live.client() as anonymous:
        path = Kit.link_path(MBU)
        assert anonymous.get(path).status_code == 200
        answer = anonymous.post(path, data={"csrf": "ö", "m_utbildningar": "2", "kommentar": "x", "namn": "X"})
        assert answer.status_code == 403 and "Formuläret kunde inte kontrolleras" in answer.text
    with db.transaction(live.engine) as s:
        assert s.scalar(sql_select(func.count()).select_from(FollowUp)) == 0


# -- 2. bodies: nothing read before sign-in, role and CSRF; every body capped -----------------


def test_an_anonymous_upload_is_sent_to_sign_in_before_its_body_is_read(live: Live) -> None:
    raw = Raw(live)
    try:
        raw.send_head("POST", "/revision/slutfor", {"Content-Type": MULTIPART, "Content-Length": str(200 * 2**20)})
        raw.sock.sendall(PART_HEAD + b"a" * 4096)
        assert raw.answered(10), "no answer while 200 MB of the declared body were still unsent"
        status, head = raw.status()
        assert status == 303 and "location: /logga-in?" in head.lower()
    finally:
        raw.close()


def test_a_signed_in_upload_without_the_forms_token_is_refused_before_its_body_is_read(live: Live) -> None:
    owner, _ = owner_with_revision_page(live)
    raw = Raw(live)
    try:
        headers = {"Content-Type": MULTIPART, "Content-Length": str(900 * 1024), "Cookie": session_cookie(owner)}
        raw.send_head("POST", "/revision/slutfor", headers)
        raw.sock.sendall(PART_HEAD + b"a" * 4096)
        assert raw.answered(10), "no answer while the body was still unsent"
        assert raw.status()[0] == 403
    finally:
        raw.close()
        owner.close()


def test_a_unit_cannot_make_the_server_read_an_upload(live: Live) -> None:
    unit = live.signed_in(Kit.FRITID)
    csrf = Kit.csrf_of(unit.get("/").text)
    raw = Raw(live)
    try:
        headers = {"Content-Type": MULTIPART, "Content-Length": str(900 * 1024), "Cookie": session_cookie(unit)}
        raw.send_head("POST", "/revision/slutfor?" + urlencode({"csrf": csrf}), headers)
        raw.sock.sendall(PART_HEAD + b"a" * 4096)
        assert raw.answered(10), "no answer while the body was still unsent"
        assert raw.status()[0] == 403
    finally:
        raw.close()
        unit.close()


@pytest.mark.parametrize(
    ("path", "content_type", "declared"),
    [
        ("/revision/slutfor", MULTIPART, 3 * 2**20),  # over the 1 MiB file and its framing
        ("/revision/beslut", "application/x-www-form-urlencoded", 512 * 1024),  # an ordinary form
    ],
)
def test_a_declared_body_over_the_cap_is_answered_413_unread(
    live: Live, path: str, content_type: str, declared: int
) -> None:
    owner, csrf = owner_with_revision_page(live)
    raw = Raw(live)
    try:
        headers = {"Content-Type": content_type, "Content-Length": str(declared), "Cookie": session_cookie(owner)}
        raw.send_head("POST", path + "?" + urlencode({"csrf": csrf}), headers)
        raw.sock.sendall(b"csrf=" + csrf.encode() + b"&x=" if "urlencoded" in content_type else PART_HEAD)
        assert raw.answered(10), "no answer while the body was still unsent"
        status, head = raw.status()
        assert status == 413, head
    finally:
        raw.close()
        owner.close()


@pytest.mark.parametrize(
    ("path", "content_type", "first"),
    [
        ("/revision/slutfor", MULTIPART, PART_HEAD),
        ("/revision/beslut", "application/x-www-form-urlencoded", b"atagande=" + MBU.encode() + b"&x="),
        ("/logga-in", "application/x-www-form-urlencoded", b"email=x&losenord="),
    ],
)
def test_a_chunked_body_is_cut_off_at_the_cap_while_it_is_read(
    live: Live, path: str, content_type: str, first: bytes
) -> None:
    owner, csrf = owner_with_revision_page(live)
    raw = Raw(live)
    try:
        headers = {"Content-Type": content_type, "Transfer-Encoding": "chunked", "Cookie": session_cookie(owner)}
        raw.send_head("POST", path + "?" + urlencode({"csrf": csrf}), headers)
        raw.sock.sendall(f"{len(first):x}\r\n".encode() + first + b"\r\n")
        sent = raw.send_until_answered(64, b"a" * 65536, chunked=True)  # at most 4 MB
        assert sent < 4 * 2**20, "the server read the whole 4 MB body before answering"
        status, head = raw.status()
        assert status == 413, head
    finally:
        raw.close()
        owner.close()


def test_the_413_page_is_swedish(live: Live) -> None:
    with closing(live.signed_in(Kit.OWNER)) as owner:
        csrf = Kit.csrf_of(owner.get("/revision").text)
        answer = owner.post("/revision/beslut", data={"csrf": csrf, "atagande": MBU, "motivering": "å" * 70_000})
        assert answer.status_code == 413
        assert "Formuläret är för stort" in answer.text and "Inget har sparats" in answer.text


def test_an_upload_within_the_cap_still_reaches_the_revision(live: Live) -> None:
    with closing(live.signed_in(Kit.OWNER)) as owner:
        page = owner.get("/revision")
        opened = owner.post("/revision/inled", data={"csrf": Kit.csrf_of(page.text), "overenskommelse": "boras"})
        assert opened.status_code == 303
        page = owner.get("/revision")
        action = re.search(r'action="(/revision/slutfor[^"]*)"', page.text)
        assert action is not None and "csrf=" in action.group(1)
        answer = owner.post(
            action.group(1).replace("&amp;", "&"),
            files={"fil": ("trasig.yaml", b"format: 1\nagreement: [", "text/yaml")},
        )
        # The engine read the file and found it broken: the body was read and handed on.
        assert answer.status_code == 400 and "trasig.yaml:" in answer.text and "Inget har sparats" in answer.text


def test_an_uploads_file_name_is_shown_short_and_without_its_path_or_control_characters(live: Live) -> None:
    with closing(live.signed_in(Kit.OWNER)) as owner:
        csrf = Kit.csrf_of(owner.get("/revision").text)
        name = "C:\\Users\\britt\\" + "lång\x1b[31m" + "x" * 300 + ".yaml"
        answer = owner.post(
            f"/revision/slutfor?csrf={csrf}", files={"fil": (name, b"format: 1\nagreement: [", "text/yaml")}
        )
    assert answer.status_code == 400
    shown = re.search(r"<li>([^<]*?): ", answer.text)
    assert shown is not None, answer.text
    assert shown.group(1).startswith("lång[31m") and len(shown.group(1)) <= 60
    assert "Users" not in answer.text and "x" * 100 not in answer.text


def test_no_page_template_carries_a_style_attribute_the_csp_would_refuse() -> None:
    """style-src 'self' refuses inline style="" in browsers: a page styled that way looks broken."""
    templates = Path(__file__).resolve().parents[2] / "web" / "templates"
    inline = [
        f"{t.name}:{n}"
        for t in templates.glob("*.html")
        for n, line in enumerate(t.read_text().splitlines(), 1)
        if re.search(r"\sstyle=", line)
    ]
    assert inline == []


# -- 3. security headers on every response ----------------------------------------------------


def _boom(request: Any) -> Response:
    raise RuntimeError("a bug in a page")


@pytest.fixture
def live_with_a_bug(live: Live, tmp_path: Path) -> Iterator[Any]:
    """The same app as ``live`` plus one page that fails with a bug, served by its own uvicorn."""
    settings = Settings(mailer="file", mail_dir=tmp_path / "outbox", base_url="http://testserver")
    app = create_app(live.engine, settings, live.clock, secret=SECRET)
    app.router.routes.append(Route("/fel", _boom))
    server = start_server(app)
    yield server
    stop_server(server)


def assert_hardened(response: httpx.Response, cache: str = "no-store") -> None:
    h = response.headers
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    assert h.get("X-Content-Type-Options") == "nosniff", where
    assert h.get("X-Frame-Options") == "DENY", where
    assert h.get("Referrer-Policy") == "no-referrer", where
    assert "frame-ancestors 'none'" in h.get("Content-Security-Policy", ""), where
    assert h.get("Cache-Control") == cache, where


def test_every_response_carries_the_security_headers(live: Live, live_with_a_bug: Any) -> None:
    with live.client() as c:
        assert_hardened(c.get("/halsa"))
        assert_hardened(c.get("/"))  # the redirect to sign-in
        assert_hardened(c.get("/logga-in"))
        assert_hardened(c.get("/finns-inte"))
        assert_hardened(c.get("/atagande/finns.inte.heller"))
        assert_hardened(c.post("/halsa"))  # 405
        assert_hardened(c.get(Kit.link_path(MBU) + "x"))  # a forged link: 404
        static = c.get("/static/style.css")
        assert static.status_code == 200
        # The stylesheet is the same for everyone: it may be stored, but is revalidated (ETag) on each use.
        assert_hardened(static, cache="no-cache")
        assert_hardened(c.get("/static/finns-inte.css"))
    with httpx.Client(base_url=live_with_a_bug.url, timeout=30) as c:
        broken = c.get("/fel")
        assert broken.status_code == 500 and "Något gick fel" in broken.text
        assert_hardened(broken)


# -- 4. a used link shows what the unit needs, not who by e-mail ------------------------------


def test_a_used_links_pages_do_not_show_the_reporters_email(live: Live) -> None:
    path = Kit.link_path(BRA)
    with live.client() as c:
        form = c.get(path)
        sent = c.post(
            path,
            data={"csrf": Kit.csrf_of(form.text), "m_antal-moten": "4", "m_representation": "god", "kommentar": "ok"}
            | {"namn": "Britt Berg"},
        )
        assert sent.status_code == 303
        thanks = c.get(sent.headers["location"])
        again = c.get(path)
    assert thanks.status_code == 200 and "Tack! Uppföljningen för 2026 är registrerad" in thanks.text
    assert again.status_code == 200 and "Rätta uppföljning 2026" in again.text  # within the unit's window
    for page in (thanks, again):
        assert "Britt Berg" in page.text  # who reported it, by name
        # The only address shown is whom to ask: the process owner's.
        assert BRA_UNIT_EMAIL not in page.text and "@" not in page.text.replace(OWNER_EMAIL, "")


def test_a_link_used_by_a_signed_in_recording_does_not_show_the_users_email(live: Live) -> None:
    with closing(live.signed_in(Kit.FRITID)) as unit:
        form = unit.get(f"/atagande/{BRA}/uppfoljning")
        data = {"csrf": Kit.csrf_of(form.text), "m_antal-moten": "4", "m_representation": "god", "kommentar": "ok"}
        assert unit.post(f"/atagande/{BRA}/uppfoljning", data=data).status_code == 303
    with live.client() as c:
        again = c.get(Kit.link_path(BRA))
        later = c.get(Kit.link_path(BRA) + "?klar=1")
    assert again.status_code == 200 and "Rätta uppföljning 2026" in again.text and "Frida Fritid" in again.text
    for page in (again, later):
        assert Kit.FRITID not in page.text and "@" not in page.text.replace(OWNER_EMAIL, "")


# -- 5. double submits ------------------------------------------------------------------------


def all_at_once(n: int, job: Callable[[int], Any]) -> list[Any]:
    """Run ``job(i)`` in ``n`` threads released together; their results (or exceptions) in order."""
    start = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = job(i)
        except Exception as exc:  # reported to the test, not lost in the thread
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@contextmanager
def follow_ups_written_together(n: int) -> Iterator[None]:
    """Hold each of ``n`` writers of a follow-up row just before its INSERT until all ``n`` are there.

    This makes the race the attacker won by chance happen every time: every writer has
    checked that no follow-up exists before any of them writes. Where the database
    serialises the writers earlier (PostgreSQL's row lock on the commitment), the
    others never arrive, and the first goes on after a short wait.
    """
    gate = threading.Barrier(n, timeout=2)

    def hold(session: Session, _context: Any, _instances: Any) -> None:
        if any(isinstance(o, FollowUp) for o in session.new):
            with suppress(threading.BrokenBarrierError):
                gate.wait()

    event.listen(Session, "before_flush", hold)
    try:
        yield
    finally:
        event.remove(Session, "before_flush", hold)


def follow_up_rows(live: Live, commitment: str) -> int:
    with db.transaction(live.engine) as s:
        return len(s.scalars(sql_select(FollowUp).where(FollowUp.commitment_id == commitment)).all())


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """What uvicorn logs (its loggers do not propagate to the root, where caplog listens)."""
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


def test_eight_concurrent_submits_of_one_link_record_once_and_the_rest_are_told_it_is_done(
    live: Live, server_log: pytest.LogCaptureFixture
) -> None:
    path = Kit.link_path(MBU)
    clients = [live.client() for _ in range(8)]
    forms = [Kit.csrf_of(c.get(path).text) for c in clients]

    def submit(i: int) -> httpx.Response:
        data = {"csrf": forms[i], "m_utbildningar": "2", "kommentar": f"inskick {i}", "namn": f"Person {i}"}
        return clients[i].post(path, data=data, follow_redirects=True)

    with follow_ups_written_together(8):
        answers = all_at_once(8, submit)
    for c in clients:
        c.close()
    assert not [a for a in answers if isinstance(a, Exception)], answers
    statuses = sorted(a.status_code for a in answers)
    assert 500 not in statuses, statuses
    assert statuses == [200] + [410] * 7
    assert all(ALREADY in a.text for a in answers if a.status_code == 410)
    assert follow_up_rows(live, MBU) == 1
    assert "Traceback" not in server_log.text and "Exception" not in server_log.text


def test_two_concurrent_recordings_by_the_engine_command_one_is_told_it_is_already_recorded(live: Live) -> None:
    def record(i: int) -> Any:
        now = live.clock.now()
        return commands.record_follow_up(
            live.engine, MBU, period=2026, values={"utbildningar": 2}, comment=f"nr {i}", by=f"BråB {i}", now=now
        )

    with follow_ups_written_together(2):
        results = all_at_once(2, record)
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], InvalidValue), results
    assert "registrerades redan" in refused[0].message
    assert follow_up_rows(live, MBU) == 1


def test_two_concurrent_cli_followups_print_one_swedish_line_for_the_loser(live: Live, cli: Cli) -> None:
    url = live.engine.url.render_as_string(hide_password=False)
    argv = ["followup", "mbu.kommun", "--db", url, "--period", "2026", "--value", "utbildningar=2"]

    def run(i: int) -> int:
        return main([*argv, "--comment", f"nr {i}", "--by", f"BråB {i}"], clock=live.clock)

    with follow_ups_written_together(2):
        codes = all_at_once(2, run)
    _, err = cli.capsys.readouterr()
    assert sorted(codes) == [0, 2], (codes, err)
    assert "Traceback" not in err and "registrerades redan" in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1, err
    assert follow_up_rows(live, MBU) == 1


def test_the_follow_up_clash_is_recognised_on_this_backend(live: Live) -> None:
    """The clash seen in the races above, as each driver reports it (PostgreSQL's row lock
    usually keeps the race from reaching the INSERT there, so the INSERT is made directly)."""
    with db.transaction(live.engine) as s:
        row = dict(
            commitment_id=MBU, period=2026, version=1, values={}, comment="a", by="a", recorded_at=live.clock.now()
        )
        s.add(FollowUp(**row))
    with pytest.raises(IntegrityError) as clash, db.transaction(live.engine) as s:
        s.add(FollowUp(**row))
    assert commands._follow_up_clash(clash.value)
