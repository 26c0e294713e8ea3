"""Hostile files (issue 14, Files): alias bombs, header text, YAML syntax errors, paths.

Each test reproduces a finding of the outside attack the way it was done: ``samverkan
validate``/``init`` on a crafted agreement file, the settings file, or an upload at
``/revision/slutfor`` on the real server. Every refusal is one Swedish ``FILE:LINE:``
line, exit code 2, nothing written; never a traceback, never the file's content echoed.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

import pytest
from sqlalchemy import func, select

from engine import agreement_yaml, db
from engine.models import AgreementRow
from notifications.settings import load_settings
from rules.errors import InvalidValue
from tests.security.conftest import Cli, Live
from tests.web.conftest import Kit

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "tests" / "data" / "minimal.yaml"

# The attack's 560-byte file: nine levels of nine aliases, 9**9 strings once expanded.
BOMB = 'format: 1\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)
# Three levels: harmless to expand, so a test can fail (rather than exhaust memory) before the fix.
SMALL_BOMB = 'format: 1\na: &a ["lol","lol","lol"]\nb: &b [*a,*a,*a]\nc: &c [*b,*b,*b]\n'


def _minimal_with(old: str, new: str) -> str:
    text = MINIMAL.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _never_constructed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any YAML document is turned into Python objects."""

    def refuse(*_: Any, **__: Any) -> NoReturn:
        raise AssertionError("the document was constructed before it was refused")

    monkeypatch.setattr(agreement_yaml.Loader, "construct_document", refuse)


def _bounded_cli(*argv: str) -> tuple[int, str]:
    """The installed command's entry point in a child limited to 1 GiB of address space and 60 s.

    For the inputs that, unfixed, grow without bound: the child fails, not the test run.
    """

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    result = subprocess.run(
        [sys.executable, "-c", "from samverkan.cli import run; run()", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit,
        check=False,
    )
    assert result.stdout == ""
    return result.returncode, result.stderr


def _one_line_at(err: str, path: Path, line: int) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{path}:{line}: "), err
    assert "Traceback" not in err
    return lines[0]


# -- 1. alias bombs ----------------------------------------------------------------------------


def test_an_alias_bomb_is_refused_at_its_first_anchor_before_construction(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _never_constructed(monkeypatch)
    path = tmp_path / "bomb.yaml"
    path.write_text(SMALL_BOMB, encoding="utf-8")

    code, out, err = cli("validate", str(path))

    assert (code, out) == (2, "")
    line = _one_line_at(err, path, 2)
    assert "ankare" in line and "alias" in line


def test_the_560_byte_bomb_is_refused_by_validate_in_bounded_memory(tmp_path: Path) -> None:
    """The attack's own file, in a process limited to 1 GiB (it grew past 2.4 GB)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB, encoding="utf-8")
    assert len(BOMB.encode()) < 600

    code, err = _bounded_cli("validate", str(path))  # killed past 1 GiB or 60 s

    assert code == 2, err[-500:]
    _one_line_at(err, path, 2)


def test_an_alias_to_an_alias_free_node_is_refused_too(cli: Cli, tmp_path: Path) -> None:
    """Agreement files need no anchors: even a harmless one is refused, on its own line."""
    path = tmp_path / "ankare.yaml"
    path.write_text(
        _minimal_with("  process_owner: bra\n", "  process_owner: &k bra\n").replace(
            "    contact: bra\n", "    contact: *k\n"
        ),
        encoding="utf-8",
    )

    code, _, err = cli("validate", str(path))

    assert code == 2
    assert "ankare" in _one_line_at(err, path, 8)


def test_an_alias_bomb_uploaded_at_revision_complete_is_refused_quickly(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    _never_constructed(monkeypatch)
    c = live.signed_in(Kit.OWNER)
    try:
        page = c.get("/revision")
        csrf = Kit.csrf_of(page.text)
        answer = c.post(
            f"/revision/slutfor?csrf={csrf}",  # the upload's token rides in its address (checked before the body)
            data={"csrf": csrf},
            files={"fil": ("bomb.yaml", SMALL_BOMB.encode(), "text/yaml")},
        )
    finally:
        c.close()

    assert answer.status_code == 400
    assert "bomb.yaml:2: " in answer.text and "ankare" in answer.text


def test_the_settings_file_refuses_anchors_before_construction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _never_constructed(monkeypatch)
    path = tmp_path / "installningar.yaml"
    path.write_text('mailer: file\nx: &a ["lol","lol"]\ny: [*a,*a]\n', encoding="utf-8")

    with pytest.raises(InvalidValue) as refused:
        load_settings(path)

    assert refused.value.field == f"{path}:2"
    assert "ankare" in refused.value.message


# -- 2. text that reaches a header -------------------------------------------------------------

HEADER_TEXTS = [
    pytest.param(
        "  title: Samverkansöverenskommelse mellan",
        '  title: "Samverkan\\r\\nBcc: x@evil.example" #',
        5,
        "agreement.title",
        id="agreement-title-crlf",
    ),
    pytest.param(
        "  title: Samverkansöverenskommelse mellan",
        "  title: Samverkan =?utf-8?q?x?= #",
        5,
        "agreement.title",
        id="agreement-title-encoded-word",
    ),
    pytest.param(
        "    name: Fritidsförvaltningen",
        "    name: Fritid =?utf-8?b?QmNjOg==?=",
        22,
        "units[1].name",
        id="unit-name",
    ),
    pytest.param(
        "    name: Exempelstad",
        '    name: "Exempel\\nstad"',
        11,
        "parties[0].name",
        id="party-name",
    ),
    pytest.param(
        "        title: Trygghetsvandringar",
        '        title: "Trygghets\\u0007vandringar"',
        46,
        "areas[0].efforts[0].title",
        id="effort-title-control",
    ),
]


@pytest.mark.parametrize(("old", "new", "line", "key"), HEADER_TEXTS)
def test_text_that_reaches_a_mail_header_is_refused_at_validate(
    cli: Cli, tmp_path: Path, old: str, new: str, line: int, key: str
) -> None:
    path = tmp_path / "rubrik.yaml"
    path.write_text(_minimal_with(old, new), encoding="utf-8")

    code, out, err = cli("validate", str(path))

    assert (code, out) == (2, "")
    assert key in _one_line_at(err, path, line)


def test_the_agreement_files_sender_name_is_checked_like_a_header(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "avsandare.yaml"
    path.write_text(
        _minimal_with("  process_owner: bra\n", '  process_owner: bra\n  mail:\n    sender_name: "BRÅ\\r\\nBcc: x"\n'),
        encoding="utf-8",
    )

    code, _, err = cli("validate", str(path))

    assert code == 2
    assert "agreement.mail.sender_name" in _one_line_at(err, path, 10)


@pytest.mark.parametrize(
    "defect",
    [
        ("  title: Samverkansöverenskommelse mellan", "  title: Samverkan =?utf-8?q?x?= #"),
        ("  process_owner: bra\n", "  process_owner: &k bra\n"),
    ],
    ids=["header-text", "anchor"],
)
def test_init_writes_nothing_when_the_file_is_refused(cli: Cli, tmp_path: Path, defect: tuple[str, str]) -> None:
    path = tmp_path / "trasig.yaml"
    path.write_text(_minimal_with(*defect), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'samverkan.db'}"
    database = db.connect(url)
    db.upgrade(database)

    code, out, err = cli("init", "--db", url, "--config", str(path))

    assert (code, out) == (2, "")
    assert err.startswith(f"{path}:") and "Traceback" not in err
    with db.transaction(database) as s:
        assert s.scalar(select(func.count()).select_from(AgreementRow)) == 0
    database.dispose()


# -- 3. YAML syntax errors, on their own line and in Swedish -----------------------------------

ENGLISH = re.compile(r"expected|found|while |could not|not allowed|block end|mapping start", re.IGNORECASE)

SYNTAX = [
    pytest.param(
        "    number: 1\n    title: Trygghet\n", "    number: 1\n   title: Trygghet\n", 43, "indrag", id="dedent"
    ),
    pytest.param("    first_period: 2020\n", "\tfirst_period: 2020\n", 32, "tabb", id="tab"),
    pytest.param('  send_time: "08:00"\n', '  send_time: "08:00\n', 30, "citattecken", id="unclosed-quote"),
    pytest.param(
        "        title: Trygghetsvandringar\n",
        "        title: Trygghetsvandringar\n          text: x\n",
        47,
        "kolon",
        id="colon-in-value",
    ),
]


@pytest.mark.parametrize(("old", "new", "line", "word"), SYNTAX)
def test_a_yaml_syntax_error_is_reported_in_swedish_on_its_line(
    cli: Cli, tmp_path: Path, old: str, new: str, line: int, word: str
) -> None:
    path = tmp_path / "syntax.yaml"
    path.write_text(_minimal_with(old, new), encoding="utf-8")

    code, _, err = cli("validate", str(path))

    assert code == 2
    reported = _one_line_at(err, path, line)
    assert word in reported
    assert not ENGLISH.search(reported), reported


def test_a_duplicate_key_in_the_settings_file_is_refused_on_its_second_line(tmp_path: Path) -> None:
    path = tmp_path / "installningar.yaml"
    path.write_text("mailer: file\nsender: a@b.example\nmailer: smtp\n", encoding="utf-8")

    with pytest.raises(InvalidValue) as refused:
        load_settings(path)

    assert refused.value.field == f"{path}:3"
    assert "två gånger" in refused.value.message


def test_a_settings_syntax_error_is_swedish_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "installningar.yaml"
    path.write_text("mailer: file\nsmtp:\n  host: x\n port: 25\n", encoding="utf-8")

    with pytest.raises(InvalidValue) as refused:
        load_settings(path)

    assert refused.value.field == f"{path}:4"
    assert not ENGLISH.search(refused.value.message), refused.value.message


# -- 4. paths --------------------------------------------------------------------------------

SECRET_LINE = "root:$6$saltsalt$" + "S" * 86 + ":19000:0:99999:7:::"


def test_validate_does_not_echo_a_symlinked_files_content(cli: Cli, tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text(f"format: 1\n{SECRET_LINE}: x\n", encoding="utf-8")
    link = tmp_path / "agreement.yaml"
    link.symlink_to(secret)

    code, out, err = cli("validate", str(link))

    assert code == 2
    assert "S" * 40 not in out + err
    assert any(line.startswith(f"{link}:2: okänd nyckel 'root:$6$") for line in err.splitlines()), err


def test_a_symlink_to_a_file_that_is_no_agreement_is_one_line_quoting_none_of_it(cli: Cli, tmp_path: Path) -> None:
    """The attack's /etc/shadow: each "name:hash:…" line reads as a YAML key of a mapping."""
    shadow = tmp_path / "shadow"
    shadow.write_text(
        "root:$6$saltsalt$hashhashhash:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n", encoding="utf-8"
    )
    link = tmp_path / "agreement.yaml"
    link.symlink_to(shadow)

    code, out, err = cli("validate", str(link))
    assert (code, out) == (2, "")
    assert "ingen överenskommelsefil" in _one_line_at(err, link, 1)
    said = err.replace(str(link), "FILE")  # the test's own path may hold "root" (pytest-of-root)
    assert "root" not in said and "hash" not in said and "daemon" not in said

    code, out, err = cli("deliver", "--settings", str(link), "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert (code, err.count("\n")) == (2, 1), err
    said = err.replace(str(link), "FILE")
    assert "ingen inställningsfil" in said and "root" not in said and "hash" not in said


def test_an_unknown_key_is_quoted_short_and_escaped(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "nyckel.yaml"
    path.write_text(_minimal_with("  timezone:", '  "\\e[2J\\e[31mx":'), encoding="utf-8")

    code, _, err = cli("validate", str(path))

    assert code == 2
    assert "\x1b" not in err
    assert "\\x1b[2J" in err


def test_a_long_value_is_quoted_short(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "lang.yaml"
    path.write_text(_minimal_with("  timezone: Europe/Stockholm", "  timezone: Europe/" + "X" * 5000), encoding="utf-8")

    code, _, err = cli("validate", str(path))

    assert code == 2
    assert len(err) < 300, err
    assert "X" * 41 not in err


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_symlink_to_dev_zero_is_one_line(tmp_path: Path) -> None:
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")

    code, err = _bounded_cli("validate", str(link))

    assert code == 2
    assert "vanlig fil" in _one_line_at(err, link, 0)


def test_a_directory_is_one_swedish_line(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("validate", str(tmp_path))

    assert code == 2
    assert "vanlig fil" in _one_line_at(err, tmp_path, 0)


def test_a_file_over_the_cap_is_refused_without_reading_it_all(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "stor.yaml"
    path.write_text(MINIMAL.read_text(encoding="utf-8") + "# " + "x" * (agreement_yaml.FILE_MAX) + "\n")

    code, _, err = cli("validate", str(path))

    assert code == 2
    assert "större än 1 MiB" in _one_line_at(err, path, 0)


def test_bytes_that_are_not_utf8_are_one_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(
        MINIMAL.read_bytes().replace("Fritidsförvaltningen".encode(), "Fritidsförvaltningen".encode("latin-1"))
    )

    code, _, err = cli("validate", str(path))

    assert code == 2
    assert "inte UTF-8 (byte 0xF6 i kolumn 19)" in _one_line_at(err, path, 22)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_the_settings_file_is_read_as_a_regular_file_under_the_cap(tmp_path: Path) -> None:
    link = tmp_path / "installningar.yaml"
    link.symlink_to("/dev/zero")

    code, err = _bounded_cli("deliver", "--settings", str(link), "--db", f"sqlite:///{tmp_path / 'x.db'}")

    assert code == 2
    assert err.startswith(f"samverkan: fel: {link}:0: ") and "vanlig fil" in err, err
    assert len(err.splitlines()) == 1


def test_a_key_in_the_path_of_a_message_is_escaped_too(cli: Cli, tmp_path: Path) -> None:
    """A commitment's party key names where a problem is: it reaches the terminal escaped."""
    path = tmp_path / "part.yaml"
    text = MINIMAL.read_text(encoding="utf-8").replace("          kommun:\n", '          "kom\\e[2Jmun":\n', 1)
    path.write_text(text, encoding="utf-8")

    code, _, err = cli("validate", str(path))

    assert code == 2
    assert "\x1b" not in err
    assert "commitments['kom\\x1b[2Jmun'][nyckel]: ogiltigt id" in _one_line_at(err, path, 55)
