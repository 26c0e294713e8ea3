"""`samverkan import`'s text reader, fuzzed: any text is a draft that validates, or one Swedish line.

``draft_file(text, name, …)`` must return a draft that ``parse_agreement`` accepts, or raise
``DocumentError`` (the project's Swedish error, one line naming the file); never another
exception. Inputs: arbitrary text, and the Borås seed mutated line by line (lines deleted,
duplicated, cut at a tab, given HTML fragments, control characters or ``=?``), so the
reader's paths through headings, tables and rows cut by a page break are all walked.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.agreement import parse_agreement
from engine.importer import DocumentError, draft_file

PROFILE = "samverkan-fuzz"
NAME = "fuzz.txt"
SEED = (Path(__file__).resolve().parents[1] / "data" / "import" / "boras-2015.txt").read_text(encoding="utf-8")
LINES = SEED.splitlines()
TODAY = date(2026, 12, 1)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))  # as tests/fuzz/conftest.py's profile
PIECES = st.sampled_from(
    [
        "\t",
        "<p>",
        "</p>",
        "<p",
        "&amp;",
        "&#0;",
        "=?",
        "\x00",
        "\x1b",
        "\r",
        "1. ",
        "Antal ",
        " ansvarar",
        "2019-2018",
        "Kommunens åtagande\tPolisens åtagande",
        "är processägare",
        "den 31 februari 2015",
        "gäller 2030–2020",
        "ö",
    ]
)


def _check(text: str, fuzz: Any, name: str) -> None:
    fuzz.tried[name] += 1
    try:
        imported = draft_file(text.encode("utf-8", "surrogatepass"), NAME, agreement_id=None, today=TODAY)
    except DocumentError as exc:
        refused = str(exc)
    else:
        parse_agreement(imported.text, "utkast.yaml")  # the draft is a valid agreement file
        return
    assert refused.startswith(f"{NAME}: ") and "\n" not in refused


@settings(settings.get_profile(PROFILE))
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=400))
def test_arbitrary_text_is_a_valid_draft_or_one_swedish_line(fuzz: Any, text: str) -> None:
    _check(text, fuzz, "import: arbitrary text")


@st.composite
def mutated_seed(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "cut", "insert", "replace"]))
        if action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "cut" and "\t" in lines[i]:
            lines[i] = lines[i].split("\t", draw(st.integers(1, 3)))[0]
        elif action == "insert":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(PIECES) + lines[i][at:]
        else:
            lines[i] = draw(st.text(max_size=60)) + draw(PIECES)
    return "\n".join(lines)


# A whole draft is written and validated per example (~0.2 s): a fifth of the profile's count.
@settings(settings.get_profile(PROFILE), max_examples=max(10, EXAMPLES // 5))
@given(mutated_seed())
def test_the_seed_mutated_is_a_valid_draft_or_one_swedish_line(fuzz: Any, text: str) -> None:
    _check(text, fuzz, "import: seed mutated")
