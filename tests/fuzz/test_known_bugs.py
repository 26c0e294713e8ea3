"""Bugs the fuzzing found (issue 7), each now fixed; every test here guards its fix.

The comment above each test says what the bug was and where it was fixed.
"""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.agreement import parse_agreement
from engine.clock import FixedClock
from engine.service import check_values
from rules.errors import AgreementFileError, InvalidValue
from samverkan.cli import main

MINIMAL_PATH = Path(__file__).resolve().parents[1] / "data" / "minimal.yaml"
MINIMAL = MINIMAL_PATH.read_text(encoding="utf-8")
LOADED = FixedClock(datetime(2021, 1, 5, 8, 0, tzinfo=UTC))


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``main(argv)`` as a person sees it: the exit code (argparse's SystemExit too) and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv, clock=LOADED)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, err.getvalue()


@pytest.fixture
def minimal_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    assert run_cli(["init", "--db", url, "--config", str(MINIMAL_PATH)])[0] == 0
    assert run_cli(["tick", "--db", url, "--now", "2021-01-05T09:00"])[0] == 0
    return url


# -- the agreement-file loader -----------------------------------------------------------

# Fix: in engine/agreement.py parse_agreement, next to `except yaml.YAMLError` around construct_document, also
# catch (ValueError, TypeError, KeyError, AttributeError, IndexError) and report
# Problem(line=<the tagged node's line>, message=f"ogiltig YAML: värdet kan inte läsas ({exc})"); the line is
# known if _Loader overrides construct_object to re-raise these as ConstructorError(None, None, ..., node.start_mark).


@pytest.mark.parametrize(
    "text",
    [
        "a: !!int abc",
        "a: !!int ''",
        "a: !!int 0x",
        "a: !!float abc",
        "a: !!bool abc",
        "a: !!timestamp x",
        "a: !!timestamp 2020-02-30",
        "a: !!set [1]",
        "a: !!map x",
    ],
)
def test_an_explicit_tag_with_an_unreadable_value_is_a_file_error(text: str) -> None:
    with pytest.raises(AgreementFileError):
        parse_agreement(text, "f.yaml")


# Fix: parse_agreement catches RecursionError (from yaml.compose, _index or construct_document) and reports
# "FILE:1: ogiltig YAML: för djupt nästlad"; _index keeps a set of the node ids on the current path and reports
# an alias to an enclosing node ("ett alias pekar på sig självt") instead of following it.
@pytest.mark.parametrize("text", ["[" * 3000, "- " * 3000 + "a", "a: &a [*a]", "a: &a {b: *a}"])
def test_deep_nesting_and_recursive_aliases_are_file_errors(text: str) -> None:
    with pytest.raises(AgreementFileError):
        parse_agreement(text, "f.yaml")


# Fix in engine/agreement.py: reminder_offsets_days: list[Annotated[StrictInt, Field(ge=-366, le=366)]];
# overdue_repeat_days, escalation_after_days, late_repeat_days: le=366; kickoff_days_before: le=1000.
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("reminder_offsets_days: [-30, -7, 0]", "reminder_offsets_days: [-99999999999]"),
        ("escalation_after_days: 21", "escalation_after_days: 99999999999"),
        ("kickoff_days_before: 60", "kickoff_days_before: 999999999999"),
    ],
)
def test_a_file_validate_accepts_can_be_ticked(tmp_path: Path, old: str, new: str) -> None:
    config = tmp_path / "a.yaml"
    config.write_text(MINIMAL.replace(old, new), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'a.db'}"
    if run_cli(["validate", str(config)])[0] == 2:
        return  # refused by validate: fixed
    assert run_cli(["init", "--db", url, "--config", str(config)])[0] in (0, 2)
    for now in ("2021-06-01", "2022-02-20T08:00", "2023-03-01T09:00"):
        assert run_cli(["tick", "--db", url, "--now", now])[0] in (0, 2)


# holidays' SE calendar knows 1953-2100; outside it rules.calendar._swedish_closed_days finds no Midsommardagen
# (StopIteration), and near 9999 the year overflows. Fix: a validator on every date of the file (signed,
# valid_from, valid_to, signatory date, timeframe start/end): 1953 <= year <= 2100, else
# "året {year} ligger utanför kalenderns år 1953–2100".
@pytest.mark.parametrize("signed", ["2150-01-01", "9999-12-31"])
def test_an_agreement_outside_the_calendar_is_refused_or_works(tmp_path: Path, signed: str) -> None:
    config = tmp_path / "a.yaml"
    config.write_text(MINIMAL.replace("signed: 2020-02-29", f"signed: {signed}"), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'a.db'}"
    assert run_cli(["init", "--db", url, "--config", str(config)])[0] in (0, 2)


# -- follow-up values --------------------------------------------------------------------

COUNT = [{"id": "antal", "text": "Antal", "kind": "count"}]


# service._count_value trusts str.isdigit(), which is true for "²" and for 5000 digits; int() refuses both.
# Fix: `if text.isascii() and text.isdigit() and len(text) <= 18: return int(text)`, else InvalidValue.
@pytest.mark.parametrize("value", ["²", "1²", "9" * 5000])
def test_a_count_that_is_not_a_plain_number_is_invalid(value: str) -> None:
    with pytest.raises(InvalidValue):
        check_values(COUNT, {"antal": value})


def test_followup_with_a_superscript_digit_is_exit_2(minimal_db: str) -> None:
    argv = ["followup", "--db", minimal_db, "vandringar.kommun", "--period", "2020", "--value", "antal=²"]
    code, err = run_cli([*argv, "--comment", "x", "--by", "y", "--now", "2021-02-01T10:00"])
    assert code == 2 and len(err.splitlines()) == 1


# -- instants on the command line ----------------------------------------------------------


# cli.parse_instant accepts any year: near year 1 or 9999 the conversion to UTC overflows (OverflowError, wrapped
# in StatementError once it reaches a query); outside 1953-2100 the holiday calendar raises StopIteration.
# Fix in parse_instant: do `value.astimezone(UTC)` inside the try (OverflowError -> InvalidValue) and refuse a
# year outside 1953-2100 with InvalidValue(where, "… ligger utanför kalenderns år 1953–2100").
@pytest.mark.parametrize("now", ["9999-12-31T23:00-12:00", "0001-01-01T00:00+05:00", "2101-06-01", "2150-01-01"])
def test_tick_with_an_instant_outside_the_calendar_is_exit_2(minimal_db: str, now: str) -> None:
    code, err = run_cli(["tick", "--db", minimal_db, "--now", now])
    assert code == 2 and len(err.splitlines()) == 1


# -- what a person types, echoed ------------------------------------------------------------


# Bytes that are not UTF-8 on a command line ($'\xff') reach Python's argv as lone surrogates and then the
# database driver. Fix at the top of cli.main: for each argument, `arg.encode("utf-8")` in a try; on
# UnicodeEncodeError print "samverkan: fel: argumentet {arg!r} är inte giltig UTF-8" and return 2.
def test_an_argument_that_is_not_utf8_is_exit_2(minimal_db: str) -> None:
    argv = ["followup", "--db", minimal_db, "\udcff", "--period", "2020", "--value", "antal=1"]
    code, err = run_cli([*argv, "--comment", "x", "--by", "y"])
    assert code == 2 and len(err.splitlines()) == 1


# Error messages quote what was typed as it was typed, so a line break inside an argument splits the one-line
# error in two. Fix in cli.main: print each error line with "\r" and "\n" replaced by "\\r" and "\\n"
# (e.g. line.replace("\r", "\\r").replace("\n", "\\n")), for SamverkanError and AgreementFileError alike.
@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--state", "a\nb"],
        ["followup", "x\ny", "--period", "2020", "--value", "antal=1", "--comment", "c", "--by", "b"],
        ["validate", "no\nsuch.yaml"],
    ],
)
def test_a_line_break_in_an_argument_keeps_the_error_on_one_line(minimal_db: str, argv: list[str]) -> None:
    if argv[0] != "validate":
        argv = [argv[0], "--db", minimal_db, *argv[1:]]
    code, err = run_cli(argv)
    assert code == 2 and err.count("\n") == 1, err
