"""``samverkan report --analysis FILE``: the process owner's analysis saved from a text file, then the report.

Borås loaded at the start of 2016 (tests/conftest.py's ``loaded``), the command run on 3 April 2017.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import docx
import pytest
from sqlalchemy import Engine, func, select

from engine import db
from engine.api import queries
from engine.clock import FixedClock
from engine.models import ReportAnalysis
from samverkan.cli import main

CLOCK = FixedClock(datetime(2017, 4, 3, 9, 0, tzinfo=UTC))
ANALYSIS = "# Analys 2016\n\nÅret gick *bra*.\nNästa rad.\n\nSlutsats: fortsätt.\n"


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _count(engine: Engine) -> int:
    with db.transaction(engine) as s:
        return int(s.scalar(select(func.count()).select_from(ReportAnalysis)) or 0)


def _report(engine: Engine, out: Path, *extra: str, fmt: str = "docx") -> list[str]:
    return ["report", "--db", _url(engine), "--period", "2016", "--format", fmt, "--out", str(out), *extra]


def test_report_analysis_saves_the_file_for_the_period_and_the_report_shows_it(
    loaded: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "analys.md"
    text.write_text(ANALYSIS, encoding="utf-8")
    out = tmp_path / "rapport.docx"
    assert main(_report(loaded, out, "--analysis", str(text), "--by", "BråB"), clock=CLOCK) == 0
    said = capsys.readouterr().out
    assert f"Analysen för 2016 sparad från {text} (version 1, 3 april 2017)." in said
    assert f"Årsrapporten för 2016 skriven till {out} (docx)." in said
    paragraphs = [p.text for p in docx.Document(io.BytesIO(out.read_bytes())).paragraphs]
    at = paragraphs.index("Analys och slutsatser")
    # Markdown is kept as the characters written: plain text paragraphs.
    assert paragraphs[at + 1 : at + 5] == [
        "# Analys 2016",
        "Året gick *bra*.\nNästa rad.",
        "Slutsats: fortsätt.",
        "Senast ändrad 3 april 2017 av BråB.",
    ]
    assert queries.report(loaded, period=2017).analysis is None  # stored for the chosen period only
    # The same file again saves nothing new; the report is written all the same.
    assert main(_report(loaded, out, "--analysis", str(text), "--by", "BråB"), clock=CLOCK) == 0
    assert "Analysen för 2016 är oförändrad (version 1); inget nytt sparades." in capsys.readouterr().out
    assert _count(loaded) == 1


def test_the_report_links_the_accessibility_statement_when_the_settings_name_the_webs_address(
    loaded: Engine, tmp_path: Path
) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("base_url: https://samverkan.boras.se/\n", encoding="utf-8")
    out = tmp_path / "rapport.html"
    assert main(_report(loaded, out, "--settings", str(settings), fmt="html"), clock=CLOCK) == 0
    statement = "https://samverkan.boras.se/tillganglighet"
    assert f'<a href="{statement}">{statement}</a>' in out.read_text(encoding="utf-8")
    # Without an address in the settings the report names none (never this machine's).
    assert main(_report(loaded, out, fmt="html"), clock=CLOCK) == 0
    assert "Tillgänglighetsredogörelse" not in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("content", "where", "words"),
    [
        (None, "", "filen finns inte"),
        ("dir", "", "är en mapp, inte en fil"),
        (b"R\xc3\xa4tt rad\nfel \xe5\xe4\xf6 rad\n", ":2", "är inte UTF-8-text (spara filen som UTF-8)"),
        (b"\n  \n\n", "", "analysen är tom; skriv minst en mening"),
        (b"Rad ett\nRad tv\xc3\xa5\nRad \x1b[31mtre\n", ":3", "otillåtet tecken U+001B"),
        (b"x" * 90_000, "", "filen är för stor för en analys (högst 20000 tecken)"),
    ],
)
def test_a_bad_analysis_file_is_one_line_naming_it_exit_2_and_nothing_is_written(
    loaded: Engine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes | str | None,
    where: str,
    words: str,
) -> None:
    path = tmp_path / "analys.txt"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    out = tmp_path / "rapport.docx"
    assert main(_report(loaded, out, "--analysis", str(path), "--by", "BråB"), clock=CLOCK) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"samverkan: fel: {path}{where}: {words}"), err
    assert not out.exists() and _count(loaded) == 0


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        ((), "samverkan: fel: --by: ange vem som skrev analysen"),
        (
            ("--by", "BråB", "--period", "2018"),
            "samverkan: fel: --period: 2018: analysen skrivs för ett år från 2016 till 2017",
        ),
    ],
)
def test_an_analysis_without_a_writer_or_for_a_year_not_begun_is_refused(
    loaded: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], line: str
) -> None:
    text = tmp_path / "analys.md"
    text.write_text(ANALYSIS, encoding="utf-8")
    out = tmp_path / "rapport.docx"
    assert main(_report(loaded, out, "--analysis", str(text), *extra), clock=CLOCK) == 2
    assert capsys.readouterr().err.startswith(line)
    assert not out.exists() and _count(loaded) == 0
