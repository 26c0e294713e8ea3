"""What every command shares: the database it opens, the values it parses, and how an error reads.

Every error a person can cause ends as one line on stderr and exit code 2 (``main`` in
``samverkan.cli``); this module decides what that line says, so ``--by`` and
``ÅTAGANDE`` are spelt in one place.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from engine import db
from engine.agreement import FIRST_YEAR, LAST_YEAR
from engine.api import queries
from engine.clock import Clock
from engine.db import Database
from rules import texts
from rules.errors import InvalidValue, SamverkanError
from rules.texts import DEFAULT_ZONE

EXIT_USAGE = 2


def database(args: argparse.Namespace, *, prepare: bool = False) -> Database:
    """The database ``--db`` (or SAMVERKAN_DB) names: upgraded by ``init``, else required to be current."""
    opened = db.connect(db.database_url(getattr(args, "db", None)))
    if prepare:
        db.upgrade(opened)
    else:
        db.require_schema(opened)
    return opened


# -- time -----------------------------------------------------------------------------------


def parse_instant(text: str, where: str = "--now", zone: ZoneInfo = DEFAULT_ZONE) -> datetime:
    """An ISO 8601 instant; without an offset it is wall-clock time in ``zone``."""
    try:
        value = datetime.fromisoformat(text.strip())
        value = value.replace(tzinfo=zone) if value.tzinfo is None else value
        value.astimezone(UTC)  # near year 1 or 9999 this overflows
    except (ValueError, OverflowError):
        raise InvalidValue(where, f"ogiltig tidpunkt '{text}' (ISO 8601, t.ex. 2027-03-01T08:00+01:00)") from None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise InvalidValue(where, f"{text}: året ligger utanför kalenderns år {FIRST_YEAR}–{LAST_YEAR}")
    return value


@dataclass(frozen=True, kw_only=True)
class When:
    """A ``--now`` or ``--from`` as typed, checked before the database is opened.

    Without an offset it is wall-clock time, and which zone it means is known only once
    the database says which agreement the command is about (``queries.zone``).
    """

    typed: datetime | None  # None: the clock's now
    wall_clock: bool

    def at(self, zone: ZoneInfo, clock: Clock) -> datetime:
        if self.typed is None:
            return clock.now()
        return self.typed.replace(tzinfo=zone) if self.wall_clock else self.typed

    def resolve(
        self, database: Database, clock: Clock, *, agreement: str | None = None, commitment: str | None = None
    ) -> datetime:
        """The instant meant: a wall-clock time in the zone of the agreement the command is about."""
        if self.typed is None or not self.wall_clock:
            return self.at(DEFAULT_ZONE, clock)
        return self.at(queries.zone(database, agreement=agreement, commitment=commitment), clock)


def when(text: str | None, where: str = "--now") -> When:
    """``text`` checked as an instant (the clock's now when absent)."""
    if text is None:
        return When(typed=None, wall_clock=False)
    value = parse_instant(text, where)
    return When(typed=value, wall_clock=datetime.fromisoformat(text.strip()).tzinfo is None)


def parse_date(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(where, f"ogiltigt datum '{text}' (ÅÅÅÅ-MM-DD)") from None


# -- other values ---------------------------------------------------------------------------


def parse_int(text: str, where: str, *, low: int | None = None, high: int | None = None) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise InvalidValue(where, f"ska vara ett heltal, inte '{text}'") from None
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            raise InvalidValue(where, f"{value} är för litet (minst {low})")
        if low is None:
            raise InvalidValue(where, f"{value} är för stort (högst {high})")
        raise InvalidValue(where, f"{value} ligger utanför {low}–{high}")
    return value


def parse_values(items: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidValue("value", f"'{item}' ska skrivas MÅTT=VÄRDE, t.ex. utbildningar=2")
        if key.strip() in values:
            raise InvalidValue("value", f"'{key.strip()}' anges två gånger")
        values[key.strip()] = value
    return values


# -- output ---------------------------------------------------------------------------------


def describe(kind: str, subject: str | None, recipients: Sequence[str], details: dict[str, Any]) -> str:
    """One readable Swedish line for an event (``tick`` and ``simulate``)."""
    label = texts.kind_name(kind)
    if kind == "transition":
        return (
            f"{label:<24} {subject}: {texts.name(texts.STATE_NAMES, details['from'])} → "
            f"{texts.name(texts.STATE_NAMES, details['to'])} ({texts.actor(details['by'])}: {details['why']})"
        )
    parts = [f"{label:<24} {subject or ''}"]
    if "period" in details and kind in ("reminder", "overdue", "escalation"):
        parts.append(f"uppföljning {details['period']}, senast {texts.datum(details['due'])}")
    if kind in ("revision_kickoff", "revision_overdue", "revision_completed"):
        parts.append(
            f"revidering {details['revision']}"
            + (f", senast {texts.datum(details['due'])}" if "due" in details else "")
        )
    if "days_late" in details and kind != "reminder":
        parts.append(f"{texts.days(details['days_late'])} sen")
    if kind == "deviation":
        parts.append(f"{details['text']}: {details['value']} (mål {details['target']})")
    if recipients:
        parts.append("till " + ", ".join(recipients))
    return " – ".join(p for p in parts if p)


def next_revision_line(due: date | None, valid_to: date | None) -> str:
    if due is not None:
        return f"Nästa revidering senast {texts.datum(due)}."
    return (
        f"Ingen revidering återstår: överenskommelsen gäller till och med {texts.datum(valid_to) if valid_to else '–'}."
    )


# -- errors ---------------------------------------------------------------------------------


def one_line(text: str) -> str:
    # What a person typed is quoted in errors; a line break in it must not split the line.
    return text.replace("\r", "\\r").replace("\n", "\\n")


# How the CLI names a value the engine's error is about: a positional argument by its
# metavar; any other lower-case field is the option of that name (``by`` → ``--by``).
SPELLING = {
    "commitment": "ÅTAGANDE",
    "trigger": "ÖVERGÅNG",
    "decision": "BESLUT",
    "version": "VERSION",
    "email": "E-POST",
    "password": "lösenordet",
    "revision": "revision",
}


def spell(field: str) -> str:
    """``field`` of an InvalidValue as this CLI's user typed it."""
    if field in SPELLING:
        return SPELLING[field]
    if field.replace("_", "").isascii() and field.replace("_", "").isalpha() and field.islower():
        return "--" + field.replace("_", "-")
    return field  # a setting (SAMVERKAN_LINK_DAYS, smtp.password_env), a file, an option already spelt


def error_lines(exc: SamverkanError) -> list[str]:
    if isinstance(exc, InvalidValue):
        return [f"{spell(exc.field)}: {exc.message}"]
    return exc.lines()


def write_text(path: str, text: str) -> None:
    """``text`` (UTF-8, line endings as written) at ``path`` whole or not at all (``write_bytes``)."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: str, data: bytes) -> None:
    """``data`` at ``path`` whole or not at all: written beside it, then renamed over it.

    On any failure the half-way file goes too; left behind, it held the whole text
    under a name nobody asked for.
    """
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except OSError as exc:
        raise InvalidValue("out", f"{path}: kan inte skrivas ({exc.strerror})") from None
    finally:
        with contextlib.suppress(OSError):
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink()
