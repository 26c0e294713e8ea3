"""The command line, fuzzed: validate, followup, tick and status with random strings.

``main(argv)`` must end with exit code 0 or 2 and never raise; on 2 stderr is one line
(``validate``: one ``FILE:LINE: message`` line per problem). argparse's own usage errors
leave through ``SystemExit(2)`` with one line: that is the same exit code a person sees,
and counts as 2 here. A ``followup`` that exits 2 writes nothing. Strings hold any
character but NUL, which a command line cannot carry.

Known bugs (pinned in test_known_bugs.py) are counted, not failed: a count value such as
``²``, an instant outside the calendar's years, a YAML explicit tag or too-deep nesting in
``validate``, and argv that is not UTF-8 (lone surrogates, tried in a property of its own).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select

from engine.clock import FixedClock
from engine.models import FollowUp, OutboxRow, TransitionRecord
from samverkan.cli import main

PROFILE = "samverkan-fuzz"
MINIMAL = Path(__file__).resolve().parents[1] / "data" / "minimal.yaml"
CLOCK = FixedClock(datetime(2021, 2, 1, 9, 0, tzinfo=UTC))
ONE_LINE_ERROR = re.compile(r"(samverkan(: fel)?|usage): .+", re.DOTALL)

# Any character a command line can carry (no NUL, no lone surrogates), with the likely ones often.
ANY = st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=40)
PLAUSIBLE_NOW = st.sampled_from(
    [
        "2021-02-01T10:00",
        "2021-03-01T08:00+01:00",
        "2027-03-01",
        "2021-03-28T02:30",
        "2021-10-31T02:30",
        "",
        " ",
        "igår",
        "2021-02-30",
        "2021-13-01",
        "2021-02-01T25:00",
        "2021-W05-1",
        "20210201",
        "2021-02-01T10:00Z",
        "2021-02-01T10:00+25:00",
        "2021-02-01T10:00:00.123456+01:00",
    ]
)
NOW = st.one_of(PLAUSIBLE_NOW, ANY, st.datetimes().map(lambda d: d.isoformat()))
COMMITMENT = st.one_of(
    st.sampled_from(
        ["vandringar.kommun", "vandringar.polis", "tillsyn.kommun", "trafik.polis", "exempel.trafik.kommun"]
    ),
    ANY,
)
PERIOD = st.one_of(st.sampled_from(["2020", "2021", "2019", " 2020 ", "2_020", "1899", "2201", "٢٠٢٠"]), ANY)
VALUE = st.one_of(
    st.builds(
        lambda k, v: f"{k}={v}",
        st.sampled_from(["antal", "insatser", "rapport", "okänd", "", " antal "]),
        st.one_of(st.sampled_from(["2", "0", "-1", "1.5", "", " 3 ", "två", "10000000000000000000000"]), ANY),
    ),
    ANY,
)


def cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv, clock=CLOCK)
        except SystemExit as exc:  # argparse's usage error: the same exit code a person sees
            code = exc.code if isinstance(exc.code, int) else 2
    return code, err.getvalue()


def digits_bug(values: list[str]) -> bool:
    """A count value int() refuses although str.isdigit() accepts it (known bug)."""
    return any(
        (v := item.partition("=")[2].strip()).isdigit() and (not v.isascii() or len(v) > 4300) for item in values
    )


def instant_bug(text: str | None) -> bool:
    """An instant outside the holiday calendar's years, or one that overflows in UTC (known bug)."""
    if text is None:
        return False
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return False
    try:
        value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC).astimezone(UTC)
    except OverflowError:
        return True
    return not 1960 <= value.year <= 2090


def loader_bug(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return isinstance(exc, RecursionError) or (
        isinstance(exc, ValueError | TypeError | KeyError | AttributeError | IndexError)
        and bool(frames)
        and f"{os.sep}yaml{os.sep}" in frames[-1].filename
    )


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The minimal agreement, taken over on 2021-01-05: three commitments pågående for 2020."""
    where = f"sqlite:///{tmp_path_factory.mktemp('cli-fuzz') / 'fuzz.db'}"
    start = FixedClock(datetime(2021, 1, 5, 8, 0, tzinfo=UTC))
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["init", "--db", where, "--config", str(MINIMAL)], clock=start) == 0
        assert main(["tick", "--db", where, "--now", "2021-01-05T09:00"]) == 0
    return where


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-fuzz-files")


def counts(url: str) -> tuple[int, int, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        out = tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (FollowUp, TransitionRecord, OutboxRow)
        )
    engine.dispose()
    return out  # type: ignore[return-value]


def expect_0_or_2(code: int, err: str, argv: list[str], fuzz: Any, name: str) -> None:
    """Exit 0, or exit 2 with one line on stderr.

    An error message quotes what was typed; a line break typed inside an argument then
    breaks the one line (known bug, pinned in test_known_bugs.py), and is counted as such.
    """
    assert code in (0, 2), f"exit {code}: {err}"
    if code == 2:
        lines = err.rstrip("\n").split("\n")
        if len(lines) != 1 and any("\n" in a for a in argv):
            fuzz.known_bugs[name] += 1
            return
        assert len(lines) == 1 and ONE_LINE_ERROR.fullmatch(lines[0]), f"not one line: {err!r}"


@settings(settings.get_profile(PROFILE))
@given(
    content=st.one_of(st.text(max_size=300), st.sampled_from(["", "format: 1\n", "[" * 1000])), name=st.integers(0, 9)
)
def test_validate(fuzz: Any, files: Path, content: str, name: int) -> None:
    fuzz.tried["cli: validate"] += 1
    path = files / f"avtal-{name}.yaml"
    path.write_text(content, encoding="utf-8")
    try:
        code, err = cli(["validate", str(path)])
    except Exception as exc:
        if not loader_bug(exc):
            raise
        fuzz.known_bugs["cli: validate"] += 1
        return
    assert code in (0, 2), err
    if code == 2:
        lines = err.rstrip("\n").split("\n")
        assert lines and all(re.fullmatch(rf"{re.escape(str(path))}:\d+: .+", line) for line in lines), err


@settings(settings.get_profile(PROFILE))
@given(path=ANY)
def test_validate_any_path(fuzz: Any, path: str) -> None:
    fuzz.tried["cli: validate PATH"] += 1
    code, err = cli(["validate", "--", path])
    assert code in (0, 2), err
    if code == 2:  # FILE:0: message, where FILE is the path as typed, line breaks shown as \n
        shown = path.replace("\r", "\\r").replace("\n", "\\n")
        assert err.endswith("\n") and err.startswith(shown + ":"), err
        assert err.count("\n") == 1, err


@settings(settings.get_profile(PROFILE))
@given(
    commitment=COMMITMENT,
    period=PERIOD,
    values=st.lists(VALUE, max_size=3),
    comment=st.one_of(st.just("Två vandringar"), ANY),
    by=st.one_of(st.just("Fritid"), ANY),
    hours=st.one_of(st.none(), st.sampled_from(["3", "2,5", "-1", "nan", "inf", "1e999", ""]), ANY),
    now=st.one_of(st.none(), NOW),
    replace=st.booleans(),
)
# Once a crash: argparse (Python 3.11) handed ``--hours=--`` to the command as an empty list.
@example(
    commitment="vandringar.kommun", period="2020", values=[], comment="x", by="y", hours="--", now=None, replace=False
)
@example(commitment="--", period="--", values=["--"], comment="--", by="--", hours=None, now="--", replace=True)
def test_followup(
    fuzz: Any,
    url: str,
    commitment: str,
    period: str,
    values: list[str],
    comment: str,
    by: str,
    hours: str | None,
    now: str | None,
    replace: bool,
) -> None:
    fuzz.tried["cli: followup"] += 1
    argv = ["followup", "--db", url, f"--period={period}", f"--comment={comment}", f"--by={by}"]
    argv += [f"--value={v}" for v in values]
    argv += [f"--hours={hours}"] if hours is not None else []
    argv += [f"--now={now}"] if now is not None else []
    argv += ["--replace"] if replace else []
    before = counts(url)
    try:
        code, err = cli([*argv, "--", commitment])
    except Exception:
        if not (digits_bug(values) or instant_bug(now)):
            raise
        fuzz.known_bugs["cli: followup"] += 1
        assert counts(url) == before  # even then, nothing written
        return
    expect_0_or_2(code, err, [*argv, commitment], fuzz, "cli: followup")
    if code == 0:
        fuzz.tried["cli: followup (of which recorded)"] += 1
    if code == 2:
        assert counts(url) == before, "a failed followup wrote something"


@settings(settings.get_profile(PROFILE))
@given(now=NOW, as_json=st.booleans())
def test_tick(fuzz: Any, url: str, now: str, as_json: bool) -> None:
    fuzz.tried["cli: tick"] += 1
    argv = ["tick", "--db", url, f"--now={now}", *(["--json"] if as_json else [])]
    try:
        code, err = cli(argv)
    except Exception:
        if not instant_bug(now):
            raise
        fuzz.known_bugs["cli: tick"] += 1
        return
    expect_0_or_2(code, err, argv, fuzz, "cli: tick")


@settings(settings.get_profile(PROFILE))
@given(
    party=st.one_of(st.none(), st.sampled_from(["kommun", "polis", "KOMMUN"]), ANY),
    unit=st.one_of(st.none(), st.sampled_from(["fritid", "bra", "kommunpolis"]), ANY),
    state=st.one_of(st.none(), st.sampled_from(["pagaende", "pågående", "uppfoljd", "PLANERAD", " avslutad "]), ANY),
    as_json=st.booleans(),
)
def test_status(fuzz: Any, url: str, party: str | None, unit: str | None, state: str | None, as_json: bool) -> None:
    fuzz.tried["cli: status"] += 1
    argv = ["status", "--db", url, *(["--json"] if as_json else [])]
    argv += [f"--party={party}"] if party is not None else []
    argv += [f"--unit={unit}"] if unit is not None else []
    argv += [f"--state={state}"] if state is not None else []
    expect_0_or_2(*cli(argv), argv, fuzz, "cli: status")


@settings(settings.get_profile(PROFILE))
@given(
    command=st.sampled_from(["followup", "status"]),
    text=st.text(alphabet=st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF), min_size=1, max_size=4),
)
def test_arguments_that_are_not_utf8(fuzz: Any, url: str, command: str, text: str) -> None:
    """Bytes that are not UTF-8 reach Python's argv as lone surrogates (surrogateescape)."""
    fuzz.tried["cli: argv not UTF-8"] += 1
    if command == "status":
        argv = ["status", "--db", url, f"--unit={text}"]
    else:
        argv = ["followup", "--db", url, "--period=2020", "--value=antal=1", "--comment=x", "--by=y", "--", text]
    try:
        code, err = cli(argv)
    except UnicodeEncodeError:
        fuzz.known_bugs["cli: argv not UTF-8"] += 1
        return
    expect_0_or_2(code, err, argv, fuzz, "cli: argv not UTF-8")


MEASURE = {"vandringar.kommun": "antal", "vandringar.polis": "antal", "tillsyn.kommun": "rapport"}


@settings(settings.get_profile(PROFILE))
@given(
    commitment=st.sampled_from(sorted(MEASURE)),
    period=st.sampled_from(["2020", " 2020", "2021"]),
    value=st.one_of(st.sampled_from(["0", "2", "7", " 3 ", "Två vandringar"]), ANY),
    comment=st.one_of(st.just("Enligt plan"), ANY),
    hours=st.one_of(st.none(), st.sampled_from(["3", "2,5", "0", "-1", "nan"]), ANY),
    now=st.one_of(st.none(), st.sampled_from(["2021-02-01T10:00", "2021-03-15", "2020-12-31T23:00"])),
    replace=st.booleans(),
)
def test_followup_mostly_valid(
    fuzz: Any,
    url: str,
    commitment: str,
    period: str,
    value: str,
    comment: str,
    hours: str | None,
    now: str | None,
    replace: bool,
) -> None:
    """Close to a real follow-up, so that the recording path (and --replace) is exercised too."""
    fuzz.tried["cli: followup, mostly valid"] += 1
    values = [f"{MEASURE[commitment]}={value}"]
    argv = [
        "followup",
        "--db",
        url,
        f"--period={period}",
        f"--comment={comment}",
        "--by=Fritid",
        f"--value={values[0]}",
    ]
    argv += [f"--hours={hours}"] if hours is not None else []
    argv += [f"--now={now}"] if now is not None else []
    argv += ["--replace"] if replace else []
    before = counts(url)
    try:
        code, err = cli([*argv, "--", commitment])
    except Exception:
        if not digits_bug(values):
            raise
        fuzz.known_bugs["cli: followup, mostly valid"] += 1
        assert counts(url) == before
        return
    expect_0_or_2(code, err, [*argv, commitment], fuzz, "cli: followup, mostly valid")
    if code == 0:
        fuzz.tried["cli: followup, mostly valid (of which recorded)"] += 1
        after = counts(url)
        assert after[0] == before[0] + 1 and after[1] in (before[1], before[1] + 1) and after[2] >= before[2]
    else:
        assert counts(url) == before, "a failed followup wrote something"
