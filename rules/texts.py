"""Every word a person reads that more than one edge prints: names, plurals, dates and numbers.

Rules of this module:

* One name per thing. A notice kind, a state, a trigger, an outbox state, a revision
  decision and a party are named here and nowhere else; the mails, the pages, the
  report and the CLI all look them up here (they used to keep four tables that disagreed).
* Dates are Swedish prose (``31 mars 2027``) or ISO (``2027-03-31``) for tables; an
  instant is shown in the agreement's own time zone, passed in by the caller.
  ``Europe/Stockholm`` is only the file format's default (``DEFAULT_ZONE``).
* Plurals: ``1 dag``, ``2 dagar``, ``−1 dag``; the count keeps its sign.
* A number: whole values without decimals (``2``, not ``2.0``), decimal comma.

Bad input raises ValueError with a Swedish message; the template layer turns it into
its own error type.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

DEFAULT_ZONE: Final = ZoneInfo("Europe/Stockholm")

MONTHS: Final = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)
MONTH_ABBR: Final = tuple(m[:3] for m in MONTHS)

# What the outbox, the history and the CLI's event lines call each kind of event.
KIND_NAMES: Final[Mapping[str, str]] = {
    "transition": "övergång",
    "reminder": "påminnelse",
    "overdue": "försenad uppföljning",
    "escalation": "eskalering",
    "revision_kickoff": "revideringsstart",
    "revision_overdue": "försenad revidering",
    "revision_completed": "revidering genomförd",
    "change_notice": "ändrade förutsättningar",
    "termination_notice": "uppsägning",
    "deviation": "avvikelse",
    "digest": "sammanställning",
    "delivery_failed": "leveransfel",
    "weekly_summary": "veckans genomgång",
    "calendar_cancel": "kalenderavbokning",
    "invite": "inbjudan",
}

# The states are Swedish words already; this is where a label would change.
STATE_NAMES: Final[Mapping[str, str]] = {s: s for s in ("planerad", "pågående", "uppföljd", "reviderad", "avslutad")}

TRIGGER_NAMES: Final[Mapping[str, str]] = {
    "start": "start",
    "follow_up": "uppföljning",
    "new_period": "ny period",
    "revise": "revidering",
    "reinstate": "återinsatt",
    "end": "avslutat",
    "restore": "tillbaka i planen",
}

OUTBOX_STATE_NAMES: Final[Mapping[str, str]] = {
    "pending": "väntar",
    "sending": "skickas",
    "sent": "skickad",
    "failed": "misslyckad",
    "withdrawn": "återkallad",
    # Rides along with the next mail to its address (a calendar cancellation): never sent alone.
    "held": "medföljer",
}

DECISION_NAMES: Final[Mapping[str, str]] = {"keep": "behålls", "change": "ändras", "remove": "tas bort"}

# How the plan names its two usual parties; any other party goes by its own name.
PARTY_LABEL: Final[Mapping[str, str]] = {"kommun": "Kommunen", "polis": "Polisen"}
_PARTY_HEADING: Final[Mapping[str, str]] = {"kommun": "Kommunens åtagande", "polis": "Polisens åtagande"}


def name(table: Mapping[str, str], key: str) -> str:
    """``key``'s name in ``table``; an unknown key is shown as it is (a newer engine's kind, say)."""
    return table.get(key, key)


def kind_name(kind: str) -> str:
    return name(KIND_NAMES, kind)


def party_label(party_id: str, party_name: str) -> str:
    """``Kommunen``/``Polisen`` for the usual parties, else the party's own name."""
    return PARTY_LABEL.get(party_id, party_name)


def party_heading(party_id: str, party_name: str) -> str:
    """A plan column's heading: ``Kommunens åtagande``, or ``NAME: åtagande``."""
    return _PARTY_HEADING.get(party_id, f"{party_name}: åtagande")


def in_title(title: str) -> str:
    """An agreement's title as it reads after "i": ``i samverkansöverenskommelsen mellan …``.

    Titles are written as headings ("Samverkansöverenskommelse mellan …"); in a sentence the
    first word takes the definite form and a small letter. A title that starts otherwise (a
    name, an abbreviation) is left as written.
    """
    first, space, rest = title.partition(" ")
    if first.lower().endswith("överenskommelse"):
        return f"{first.lower()}n{space}{rest}"
    return title


def actor(by: str) -> str:
    """Who made a change, as a person reads it: the engine's own rules (``regel:start``) are "automatiskt"."""
    return "automatiskt" if by.startswith("regel:") else by


def days(count: int) -> str:
    """``1 dag``, ``3 dagar``, ``-1 dag``."""
    return f"{count} {'dag' if abs(count) == 1 else 'dagar'}"


def days_left(count: int | None) -> str:
    """A deadline relative to today: ``i dag``, ``om 1 dag``, ``3 dagar sen``; empty for none."""
    if count is None:
        return ""
    if count == 0:
        return "i dag"
    if count > 0:
        return f"om {days(count)}"
    return f"{days(-count)} sen"


def datum(value: date | datetime | str, zone: ZoneInfo = DEFAULT_ZONE) -> str:
    """A date (or ISO date string, or an instant in ``zone``) as Swedish prose: ``31 mars 2027``."""
    if isinstance(value, datetime):
        value = value.astimezone(zone).date() if value.tzinfo is not None else value.date()
    elif isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"datum: {value!r} är inget datum ÅÅÅÅ-MM-DD") from None
    elif not isinstance(value, date):
        raise ValueError(f"datum: {value!r} är inget datum")
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def datumtid(value: datetime | str, zone: ZoneInfo = DEFAULT_ZONE) -> str:
    """An aware instant as local time in ``zone``: ``1 mars 2027 kl. 08:00``."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"datumtid: {value!r} är ingen tidpunkt") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"datumtid: {value!r} är ingen tidpunkt med tidszon")
    local = value.astimezone(zone)
    return f"{datum(local.date())} kl. {local:%H:%M}"


def local_minute(value: datetime, zone: ZoneInfo = DEFAULT_ZONE) -> str:
    """An instant for a table or a terminal: ``2027-03-01 08:00`` in ``zone``."""
    return f"{value.astimezone(zone):%Y-%m-%d %H:%M}"


def tal(value: Any) -> str:
    """A measure value or target: whole numbers without decimals (2, not 2.0), decimal comma."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return str(value).replace(".", ",")
    return str(value)
