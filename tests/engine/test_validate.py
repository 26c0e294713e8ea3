"""`samverkan validate FILE`: a good file gives a summary, a bad one every problem as FILE:LINE: message.

Each file in tests/data/bad/ is a copy of tests/data/minimal.yaml with one defect and a
first line ``# expect: LINE: SUBSTRING`` naming the line a person would point at and a
distinctive part of the Swedish message.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from samverkan.cli import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
BAD = DATA / "bad"
MINIMAL = DATA / "minimal.yaml"
BORAS = ROOT / "config" / "boras-2015.yaml"

HEADER = re.compile(r"^# expect: (\d+): (.+)$")

# Defects the loader does not yet report as specified; strict, so a fix shows up as XPASS.
KNOWN_LOADER_BUGS: dict[str, str] = {}

BAD_FILES = sorted(BAD.glob("*.yaml"))


def _expectation(path: Path) -> tuple[int, str] | None:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    match = HEADER.match(first)
    return (int(match[1]), match[2]) if match else None


def _bad_params() -> list[object]:
    return [
        pytest.param(
            p,
            id=p.stem,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_LOADER_BUGS[p.stem])]
            if p.stem in KNOWN_LOADER_BUGS
            else [],
        )
        for p in BAD_FILES
    ]


def _validate(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str, list[str]]:
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


def test_there_are_enough_bad_files() -> None:
    """The malformed examples exist at all (an empty glob would test nothing)."""
    assert len(BAD_FILES) >= 14


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.stem for p in BAD_FILES])
def test_every_bad_file_states_its_expected_line_and_message(path: Path) -> None:
    """A bad file without '# expect: LINE: SUBSTRING' on line 1 would test nothing."""
    expectation = _expectation(path)
    assert expectation is not None, f"{path.name}: first line must be '# expect: LINE: SUBSTRING'"
    line, _ = expectation
    assert 1 <= line <= len(path.read_bytes().splitlines()), f"{path.name}: line {line} is past the end"


@pytest.mark.parametrize("path", _bad_params())
def test_bad_file_is_reported_on_its_line(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    """Exit 2, nothing on stdout, only FILE:LINE: lines on stderr, one of them the expected one."""
    expectation = _expectation(path)
    assert expectation is not None
    line, substring = expectation

    code, out, err = _validate(capsys, path)

    assert code == 2
    assert out == ""
    assert err, "no problem reported"
    assert "Traceback" not in "\n".join(err)
    shape = re.compile(rf"^{re.escape(str(path))}:\d+: .+$")
    assert all(shape.match(e) for e in err), err
    prefix = f"{path}:{line}: "
    assert any(e.startswith(prefix) and substring in e for e in err), (
        f"expected a line starting {prefix!r} containing {substring!r}, got:\n" + "\n".join(err)
    )


@pytest.mark.parametrize(
    ("path", "counts"),
    [
        pytest.param(MINIMAL, "2 samverkansområden, 3 insatser, 5 åtaganden", id="minimal"),
        pytest.param(BORAS, "4 samverkansområden, 15 insatser, 30 åtaganden", id="boras-2015"),
    ],
)
def test_valid_file_gives_a_one_line_summary(capsys: pytest.CaptureFixture[str], path: Path, counts: str) -> None:
    """Exit 0 and one stdout line counting areas, efforts and commitments."""
    code, out, err = _validate(capsys, path)

    assert code == 0
    assert err == []
    lines = out.splitlines()
    assert len(lines) == 1
    for word in ("samverkansområden", "insatser", "åtaganden"):
        assert word in lines[0]
    assert counts in lines[0]


def _minimal_with(replacements: dict[str, str]) -> str:
    text = MINIMAL.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize(
    ("replacements", "expected_lines"),
    [
        pytest.param(
            {
                "  signed: 2020-02-29": "  signed: 2015-13-40",
                "  timezone: Europe/Stockholm": "  timezon: Europe/Stockholm",
                "email: fritid@exempelstad.example": "email: fritid.exempelstad.example",
                "    overdue_repeat_days: 14": "    escalation_after_days: 14",
            },
            {6, 7, 24, 36},
            id="schema-and-duplicate-key",
        ),
        pytest.param(
            {
                "    contact: bra\n  - id: polis": "    contact: kommunpolis\n  - id: polis",
                "[-30, -7, 0]": "[-30, -7, 7]",
                "Delta i trygghetsvandringar.\n            responsible: kommunpolis": (
                    "Delta i trygghetsvandringar.\n            responsible: polis-x"
                ),
            },
            {12, 34, 59},
            id="cross-references",
        ),
    ],
)
def test_several_defects_are_all_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, replacements: dict[str, str], expected_lines: set[int]
) -> None:
    """Every problem is listed at once, each on its own line, not only the first."""
    path = tmp_path / "flera-fel.yaml"
    path.write_text(_minimal_with(replacements), encoding="utf-8")

    code, out, err = _validate(capsys, path)

    assert code == 2
    assert out == ""
    assert len(err) >= 3
    reported = {int(m[1]) for e in err if (m := re.match(rf"^{re.escape(str(path))}:(\d+): .+$", e))}
    assert len(reported) == len(err), err
    assert expected_lines <= reported, err


def test_missing_file_is_one_line_naming_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A file that does not exist is an input error, not a crash."""
    path = tmp_path / "finns-inte.yaml"

    code, out, err = _validate(capsys, path)

    assert code == 2
    assert out == ""
    assert len(err) == 1
    assert err[0].startswith(f"{path}:")
    assert "finns inte" in err[0]


def _console_script() -> Path:
    beside = Path(sys.executable).parent / "samverkan"  # this venv's, before any other on PATH
    found = shutil.which("samverkan")
    return beside if beside.exists() or not found else Path(found)


def test_installed_command_exits_2_without_traceback_on_a_bad_file() -> None:
    """The real `samverkan` entry point (samverkan.cli:run) turns a bad file into exit code 2."""
    script = _console_script()
    assert script.exists(), f"console script not installed: {script}"
    path = BAD / "unknown_unit.yaml"

    result = subprocess.run(
        [str(script), "validate", str(path)], capture_output=True, text=True, encoding="utf-8", check=False
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert f"{path}:56: okänd enhet 'fritids'" in result.stderr
