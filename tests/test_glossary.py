"""The words a person reads: the known wrong ones must not come back.

Each entry is a word or phrase that was once shown and read wrongly (issue 16), with what
is said instead. The templates are read as a person sees them (markup and Jinja code
removed, so a route such as ``/revision`` is not a text); the command line's and the
pages' messages are their string literals (docstrings, which are English and for
developers, are not).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ("web/templates", "notifications/templates")
MESSAGES = ("samverkan", "web/pages")

WRONG = {
    r"\bTillstånd\b": "Status",
    r"\bSlag\b": "Typ",
    r"Försenad-notiser": "Förseningsmeddelanden",
    r"\bförsöks igen\b": "skickas igen senare",
    r"\b1 dagar\b|\bdagar? sent\b": "1 dag sen, 3 dagar sen (rules.texts.days)",
    r"\bregel:\w": "automatiskt (rules.texts.actor)",
    r"\bSamverkansöverenskommelse mellan\b": "the agreement's title, or i samverkansöverenskommelsen mellan",
}

# In a kommun "revision" is the auditors; the agreement says "revidera". In code a bare
# "revision" is also a key, a route or the command's name (typed as ``samverkan revision``),
# so among string literals only prose (a literal with a space) is held to this.
PROSE_WRONG = {
    r"(?<![/\w'])(?<!samverkan )[Rr]evision(?:en|er|erna|ens|s\w+)?\b": "revidering, revideringen, revideringsstart",
}

# In a template, a title after "i" reads "i Samverkansöverenskommelse mellan …" unless it
# goes through the filter that gives it the definite form.
BARE_TITLE_AFTER_I = re.compile(r"\bi \{\{ *[\w.]*title *\}\}")


def _template_text(raw: str) -> str:
    text = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", raw, flags=re.S)
    return re.sub(r"<[^>]*>", " ", text)


def _templates() -> list[Path]:
    return sorted(p for d in TEMPLATES for p in (ROOT / d).rglob("*") if p.is_file())


def _literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def _wrong_words(text: str, *, prose: bool = True) -> list[str]:
    table = {**WRONG, **PROSE_WRONG} if prose else WRONG
    return [f"{m.group(0)!r} (say: {right})" for word, right in table.items() for m in re.finditer(word, text)]


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_template_uses_the_right_words(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    found = _wrong_words(_template_text(raw))
    found += [f"{m.group(0)!r} (say: i {{{{ … |i_titel }}}})" for m in BARE_TITLE_AFTER_I.finditer(raw)]
    assert not found, found


@pytest.mark.parametrize(
    "path",
    sorted(p for d in MESSAGES for p in (ROOT / d).rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_the_messages_use_the_right_words(path: Path) -> None:
    found = [hit for literal in _literals(path) for hit in _wrong_words(literal, prose=" " in literal)]
    assert not found, found


def test_the_glossary_finds_each_wrong_word() -> None:
    # The checks themselves must be able to fail: each wrong word, as it once read, is found.
    once = (
        "<th>Tillstånd</th><th>Slag</th><th>Försenad-notiser</th> 2 försöks igen, 1 dagar sent, av regel:start"
        " i Samverkansöverenskommelse mellan. Revision 4"
    )
    assert len(_wrong_words(_template_text(once))) == len(WRONG) + len(PROSE_WRONG)
    assert BARE_TITLE_AFTER_I.search("ert åtagande i {{ agreement.title }}.")
    assert not BARE_TITLE_AFTER_I.search("ert åtagande i {{ agreement.title|i_titel }}.")
    assert not _wrong_words(_template_text('<a href="/revision?regel:x">Status</a>{{ x.Slag }}'))
    assert not _wrong_words("kör 'samverkan revision start'; se /revision")
