"""The process owner's analysis in the yearly report: what a text must be, and its paragraphs.

The analysis is plain text, however it was written (the web's text box, a Markdown file
given to ``samverkan report --analysis``): a blank line starts a new paragraph, a single
line break stays a line break, and no character has a meaning in any format. Every edge
checks it here, so the web and the CLI refuse the same texts with the same words.
"""

from __future__ import annotations

import re

from rules.errors import InvalidValue

# A few printed pages; the web's form (64 kB, web.http.FORM_MAX) carries this much Swedish text.
MAX_CHARS = 20_000
# TAB and the line break are text; every other control character (NUL, ESC, form feed, the
# C1 range) is refused: PostgreSQL stores no NUL, and none of them prints in a report.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _lines(text: str) -> list[str]:
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")


def normalized(text: str) -> str:
    """``text`` with Windows and old Mac line ends as ``\\n``, without a byte order mark,
    trailing spaces or the blank lines around it."""
    return "\n".join(line.rstrip() for line in _lines(text)).strip("\n")


def problem(text: str) -> tuple[int | None, str] | None:
    """What is wrong with an analysis as written, as (its line or None, Swedish message); None when nothing is.

    The line is counted in ``text`` as given (a file's line), before ``normalized``.
    """
    for number, line in enumerate(_lines(text), start=1):
        found = _CONTROL.search(line)
        if found:
            return number, f"otillåtet tecken U+{ord(found.group()):04X} (styrtecken får inte stå i analysen)"
    clean = normalized(text)
    if not clean.strip():
        return None, "analysen är tom; skriv minst en mening"
    if len(clean) > MAX_CHARS:
        return None, f"analysen får vara högst {MAX_CHARS} tecken (den har {len(clean)})"
    return None


def checked(text: str, field: str = "text") -> str:
    """``text`` normalized, or InvalidValue naming ``field`` and, for a bad character, its line."""
    found = problem(text)
    if found is not None:
        line, message = found
        raise InvalidValue(field, message + (f" (rad {line})" if line else ""))
    return normalized(text)


MAX_NAME = 300


def checked_name(by: str, field: str = "by") -> str:
    """Who wrote it, on one line as every name in the history, or InvalidValue."""
    by = by.strip()
    if not by:
        raise InvalidValue(field, "ange vem som skrev analysen")
    if len(by) > MAX_NAME or "\n" in by or _CONTROL.search(by):
        raise InvalidValue(field, f"ett namn på en rad, högst {MAX_NAME} tecken")
    return by


def paragraphs(text: str) -> tuple[tuple[str, ...], ...]:
    """The paragraphs of an analysis, each as its lines: blank lines part them and are not kept."""
    out: list[tuple[str, ...]] = []
    lines: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            lines.append(line.strip())
        elif lines:
            out.append(tuple(lines))
            lines = []
    if lines:
        out.append(tuple(lines))
    return tuple(out)
