"""``samverkan import``: a signed agreement document drafted into an agreement file.

``draft_file(data, name, agreement_id=…, today=…)`` reads the document (``document``: Word
or a text export), drafts the agreement from it (``draft`` for the head, ``plan`` for the
action plan), writes YAML with a comment at every guess (``emit``) and checks the result as
``samverkan validate`` would. Sans I/O: the caller reads the file and writes the draft.
A document it cannot draft from is a ``DocumentError``: one Swedish line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from engine.agreement import parse_agreement
from engine.importer import document, emit
from engine.importer.draft import Draft, build
from engine.importer.errors import DocumentError
from rules.errors import AgreementFileError

__all__ = ["DocumentError", "Draft", "Imported", "draft_file"]


@dataclass(frozen=True, kw_only=True)
class Imported:
    text: str  # the draft agreement file
    draft: Draft

    def summary(self) -> list[str]:
        """What was found, guessed and not placed, in Swedish, one item a line."""
        d = self.draft
        lines = [
            f"Utkast: {d.areas} samverkansområden, {d.efforts} insatser, {d.commitments} åtaganden, "
            f"{len(d.document['units'])} enheter.",
            f"Hittat ({len(d.found)}):",
            *(f"  - {line}" for line in d.found),
            f"Gissat – märkt KONTROLLERA i filen ({len(d.guessed)}):",
            *(f"  - {line}" for line in d.guessed),
            f"Kunde inte placeras ({len(d.unplaced)}):",
            *(f"  - {line}" for line in d.unplaced or ("inget",)),
        ]
        return lines


def draft_file(data: bytes, name: str, *, agreement_id: str | None, today: date) -> Imported:
    """The draft agreement file of the document ``data`` (``name``: how messages call it)."""
    try:
        read = document.read(data, name)
        draft = build(read, agreement_id=agreement_id, today=today)
        text = emit.dump(draft.document, draft.comments, _header(name))
    except RecursionError:
        raise DocumentError(name, "dokumentet är för djupt nästlat för att läsas") from None
    try:
        parse_agreement(text, name)
    except AgreementFileError as exc:
        # The draft of an odd document can break a rule of the file no reading foresaw (a
        # date outside the calendar's years): said, never half-written.
        raise DocumentError(
            name, f"utkastet blev inte en giltig överenskommelsefil: {exc.problems[0].message}"
        ) from None
    return Imported(text=text, draft=draft)


def _header(name: str) -> list[str]:
    shown = name.replace("\\", "/").rsplit("/", 1)[-1]
    return [
        f"Utkast till överenskommelsefil ur {shown}, skrivet av 'samverkan import'.",
        "Gå igenom varje rad märkt KONTROLLERA (en gissning) och TODO (fyll i), och kontrollera",
        "sedan filen med: samverkan validate FIL. Formatet: docs/agreement-file.md.",
    ]
