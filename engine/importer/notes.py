"""What a draft carries besides its values: the comments at its lines, the summary, the units it named.

A comment belongs to a path in the document (``("areas", 0, "efforts", 1, "title")``) and is
written at that key's line. ``check`` is a guess the owner must look at (``# KONTROLLERA:``),
``todo`` something to fill in (``# TODO``), ``note`` an explanation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.importer import phrases

Path = tuple[str | int, ...]


@dataclass
class Notes:
    comments: dict[Path, str] = field(default_factory=dict)
    found: list[str] = field(default_factory=list)
    guessed: list[str] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)

    def note(self, path: Path, text: str) -> None:
        self.comments[path] = f"{self.comments[path]}; {text}" if path in self.comments else text

    def check(self, path: Path, text: str, where: str) -> None:
        self.note(path, f"KONTROLLERA: {text}")
        self.guessed.append(f"{text} ({where})" if where else text)

    def todo(self, path: Path, text: str) -> None:
        self.note(path, f"TODO: {text}")


@dataclass
class Units:
    """The bodies the document names, one unit each, with a placeholder address under ``.example``."""

    domain: str
    units: list[dict[str, Any]] = field(default_factory=list)
    _by_name: dict[str, str] = field(default_factory=dict)
    police_contact: str = ""

    def add(self, name: str, party: str, *, unit_id: str | None = None) -> str:
        key = name.casefold()
        if key in self._by_name:
            return self._by_name[key]
        base = unit_id or phrases.slug(name, words=4) or "enhet"
        taken = {u["id"] for u in self.units}
        uid, n = base, 2
        while uid in taken:
            uid, n = f"{base}-{n}", n + 1
        host = "polisen.example" if party == "polis" else f"{self.domain}.example"
        self.units.append({"id": uid, "name": name, "party": party, "email": f"{uid}@{host}"})
        self._by_name[key] = uid
        return uid

    def index(self, uid: str) -> int:
        return next(i for i, u in enumerate(self.units) if u["id"] == uid)
