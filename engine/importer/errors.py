"""The importer's one error: a document it cannot draft from, said in one Swedish line."""

from __future__ import annotations

from rules.errors import SamverkanError


class DocumentError(SamverkanError):
    """A file that is not a readable agreement document: empty, not a document, no action plan."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message
        super().__init__(f"{name}: {message}")
