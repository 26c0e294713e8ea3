"""The words a person reads: the known wrong ones must not come back.

Each entry is a word or phrase that was once shown and read wrongly (issue 16), with what
is said instead. The templates are read as a person sees them (markup and Jinja code
removed, so a route such as ``/revision`` is not a text); the command line's and the
pages' messages are their string literals (docstrings, which are English and for
developers, are not); the engine's, the rules' and the mail code's messages (which the CLI,
the pages and the mails show as they are) are their literals with a space in them: a prose
sentence, not a key.

A date in prose reads "31 mars 2027" (``rules.texts.datum``, the ``datum`` filter); ISO stays
in tables, files and command examples. Two checks hold that: a message's f-string may not
put a date in as ISO (``.isoformat()``, or a date value left to ``str``), and a template may
not print a date value unfiltered outside a table cell or an attribute.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ("web/templates", "notifications/templates")
MESSAGES = ("samverkan", "web/pages")
ENGINE_MESSAGES = ("engine", "rules", "notifications")  # without engine/migrations (for developers)

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

# A value in an f-string whose name says it is a date (``due``, ``c.terminates``, ``today``):
# formatted as it is, it prints ISO.
DATE_NAME = re.compile(
    r"(?:^|[._])(?:due|terminates|valid_to|valid_from|signed|effective|starts|opens|today|regular|following"
    r"|previous_due|last_day)$"
)
# Where ISO is the right form, with why: a table's cell, a log line, an exception nobody reads.
ISO_ALLOWED = {
    ("samverkan/cli/commitments.py", "r.next_due.isoformat()"): "the Åtaganden table's column",
    ("samverkan/cli/commitments.py", "m.at.isoformat(timespec='seconds')"): "a history line, one per move, as a log",
    ("notifications/links.py", "claim.issued.isoformat()"): "an exception's text; the page says 'Länken gäller från …'",
}
# In a template: a date value printed without the datum filter, either alone in ``{{ }}``
# (possibly ``a or b`` / ``a or "text"``) or joined into a sentence with ``~``.
_TEMPLATE_DATE = (
    r"[\w.]*\b(?:due|signed|valid_from|valid_to|terminates|effective|last_day|opened_at|decided_at|recorded_at"
    r"|expires)"
)
BARE_DATE = re.compile(
    rf"\{{\{{-?\s*\(?\s*({_TEMPLATE_DATE})(?:\s+or\s+(?:{_TEMPLATE_DATE}|\"[^\"]*\"))?\s*\)?\s*-?\}}\}}"
)
JOINED_DATE = re.compile(rf"~\s*\(?\s*({_TEMPLATE_DATE})\b(?!\s*\)?\s*\|)|({_TEMPLATE_DATE})\b\s*~")

# In a template: an id printed where a person reads it (``({{ c.party }})`` read "(polis)"); the
# read models give the name beside it (``party_name``, ``unit_name``, the agreement's title). In
# an attribute (a form's hidden value, a link) an id is right.
RAW_ID = re.compile(r"\{\{-?\s*[\w.]+\.(?:party|unit|responsible|agreement)(?:\s+or\s+[\w.\"]+)*\s*-?\}\}")
# Where the name is what the key holds: notifications.grouped.Item's party and agreement are names,
# and the report's Missing.unit is the unit's name (engine.report.build).
RAW_ID_ALLOWED = {
    "notifications/templates/digest.html",
    "notifications/templates/digest.txt",
    "notifications/templates/report/report.html",
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


def _engine_messages() -> list[Path]:
    return sorted(
        p for d in ENGINE_MESSAGES for p in (ROOT / d).rglob("*.py") if "migrations" not in p.relative_to(ROOT).parts
    )


def _iso_in_prose(source: str, name: str) -> list[str]:
    """The values an f-string with a space in it (a sentence) prints as ISO dates; ``name`` as in ISO_ALLOWED."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if not isinstance(node, ast.JoinedStr):
            continue
        if " " not in "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)):
            continue
        for value in node.values:
            if not isinstance(value, ast.FormattedValue):
                continue
            e, shown = value.value, ast.unparse(value.value)
            iso = isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr == "isoformat"
            bare = isinstance(e, ast.Name | ast.Attribute) and DATE_NAME.search(shown) is not None
            if (iso or bare) and (name, shown) not in ISO_ALLOWED:
                found.append(f"line {node.lineno}: {{{shown}}} (say: {{texts.datum(...)}})")
    return found


def _dates_unfiltered(raw: str) -> list[str]:
    """Date values a template prints in prose without ``|datum``: not in a table cell, not in an attribute."""
    found = []
    for line in raw.splitlines():
        for m in BARE_DATE.finditer(line):
            before = line[: m.start()]
            in_cell = before.rfind("<td") > before.rfind("</td>")
            in_tag = before.rfind("<") > before.rfind(">")
            if not (in_cell or in_tag):
                found.append(f"{m.group(0)!r} (say: {{{{ … |datum }}}})")
        for m in JOINED_DATE.finditer(line):
            found.append(f"{m.group(0)!r} (say: ~ (… |datum) ~)")
    return found


def _wrong_words(text: str, *, prose: bool = True) -> list[str]:
    table = {**WRONG, **PROSE_WRONG} if prose else WRONG
    return [f"{m.group(0)!r} (say: {right})" for word, right in table.items() for m in re.finditer(word, text)]


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_template_uses_the_right_words(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    found = _wrong_words(_template_text(raw))
    found += [f"{m.group(0)!r} (say: i {{{{ … |i_titel }}}})" for m in BARE_TITLE_AFTER_I.finditer(raw)]
    found += _dates_unfiltered(raw)
    if str(path.relative_to(ROOT)) not in RAW_ID_ALLOWED:
        found += _ids_shown(raw)
    assert not found, found


def _ids_shown(raw: str) -> list[str]:
    """Ids a template prints in text (outside a tag): a person reads the name instead."""
    found = []
    for line in raw.splitlines():
        for m in RAW_ID.finditer(line):
            before = line[: m.start()]
            if before.rfind("<") <= before.rfind(">"):
                found.append(f"{m.group(0)!r} (say: the name, e.g. {{{{ c.party_name }}}})")
    return found


@pytest.mark.parametrize(
    "path",
    sorted(p for d in MESSAGES for p in (ROOT / d).rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_the_messages_use_the_right_words(path: Path) -> None:
    found = [hit for literal in _literals(path) for hit in _wrong_words(literal, prose=" " in literal)]
    assert not found, found


@pytest.mark.parametrize("path", _engine_messages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_engines_messages_use_the_right_words(path: Path) -> None:
    # Only prose: a literal without a space is a key, a route or a stored word ("regel:start").
    found = [hit for literal in _literals(path) if " " in literal for hit in _wrong_words(literal)]
    assert not found, found


@pytest.mark.parametrize(
    "path",
    sorted(p for d in (*MESSAGES, *ENGINE_MESSAGES) for p in (ROOT / d).rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_a_date_in_a_message_reads_as_swedish_prose(path: Path) -> None:
    found = _iso_in_prose(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
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


def test_the_glossary_finds_each_date_that_read_as_iso() -> None:
    # Each as it once read (issue 16): the engine's and the rules' messages, the CLI's, the draft's hints.
    once = "\n".join(
        (
            'a = f"överenskommelsen är uppsagd från {agreement.terminates}"',  # engine/revisions.py
            'b = f"sista dagen är flyttad till {commitment.due.isoformat()} (anstånd)"',  # rules/withdrawal.py
            'c = f"den nya sista dagen kan inte vara före i dag, {today.isoformat()}"',  # engine/extensions.py
            'd = f"{effective} har redan passerat"',  # engine/parties.py
            'e = f"{done.commitment}: sista dag {done.previous_due.isoformat()}"',  # samverkan/cli
        )
    )
    assert len(_iso_in_prose(once, "once.py")) == 5
    fine = 'key = f"overdue:{c.id}:{c.period}:manual:{today.isoformat()}"\nok = f"senast {texts.datum(due)}"'
    assert _iso_in_prose(fine, "fine.py") == []
    # The revision draft's term, as it read: the signing date joined into a hint, and the dates alone.
    draft = (
        '{% for k in (("valid_from", "Tomt: från undertecknandet (" ~ draft.term.signed ~ ").", "date"),) %}\n'
        "<dt>Gäller från</dt><dd>{{ draft.term.valid_from or draft.term.signed }}</dd>\n"
        '<dt>Gäller till och med</dt><dd>{{ draft.term.valid_to or "tills vidare" }}</dd>\n'
    )
    assert len(_dates_unfiltered(draft)) == 3
    right = (
        '{{ (draft.term.signed|datum if draft.term.signed else "–") }} ~ (e.effective|datum) ~\n'
        '<td class="date">{{ f.due }}</td><input type="date" value="{{ x.due }}">{{ due|datum }}\n'
    )
    assert _dates_unfiltered(right) == []
    # The ids a person once read (issue 16): "(polis)" in the revision and the mails, a unit's id.
    once_ids = (
        "<td>{{ c.party }}</td> {{ it.effort_title }} ({{ it.party }}) <td>{{ h.unit }}</td>"
        ' <td>{{ u.party or u.unit or "" }}</td>'
        ' <a href="/revision?overenskommelse={{ v.agreement|urlencode }}">{{ v.agreement }}</a>'
    )
    assert len(_ids_shown(once_ids)) == 5
    assert _ids_shown('<input type="hidden" name="enhet" value="{{ u.unit }}"> {{ c.party_name }}') == []
    # The words that read as the auditors, as the engine and the rules once said them.
    for said in ("ingen revision pågår; starta med", "revision 3 är genomförd", "borttaget i revision 2"):
        assert _wrong_words(said), said
