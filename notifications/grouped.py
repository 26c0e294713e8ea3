"""The grouped mail: what is due for one address in one send slot, as a short list.

A busy official reads it in ten seconds, so the list is made here, in code, not in the
template: one line per notice, naming the insats, the agreement, what is asked and by
when, with its own button; most urgent first (late ones by how late, then reminders by
their date, deviations last); for a process owner grouped by förvaltning (the unit
responsible for the commitment), the förvaltning with the most urgent item first.
The subject says what and when: "3 uppföljningar att lämna – den första senast 31 mars
2027", "… – den första i dag".

Only the notices of rules.model.GROUPED_KINDS reach a grouped mail; anything else goes
out on its own (notifications.compose).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from rules import texts

# The order of the kinds within a mail, most urgent first.
_RANK = {"overdue": 0, "escalation": 1, "reminder": 2, "deviation": 3}


@dataclass(frozen=True, kw_only=True)
class Item:
    kind: str
    effort: str
    party: str
    unit: str
    unit_email: str
    agreement: str
    agreement_id: str
    commitment: str
    asked: str
    when: str
    button: str | None
    url: str | None
    rank: tuple[int, int, str, str]


@dataclass(frozen=True, kw_only=True)
class Section:
    """The items of one förvaltning (a process owner's mail), or all of them (a unit's)."""

    title: str | None
    email: str
    items: tuple[Item, ...]


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _late(n: dict[str, Any]) -> str:
    text = f"sista dag var {texts.datum(n['due'])}" if n.get("due") else ""
    if n.get("days_late") is not None:
        text += (", " if text else "") + f"{texts.days(int(n['days_late']))} sen"
    return text


def _by_when(n: dict[str, Any]) -> str:
    if not n.get("due"):
        return ""
    if n.get("days_left") == 0:
        return f"senast i dag, {texts.datum(n['due'])}"
    text = f"senast {texts.datum(n['due'])}"
    if n.get("days_left") is not None:
        text += f" ({texts.days_left(int(n['days_left']))})"
    return text


def item(ctx: dict[str, Any], page_url: str | None) -> Item:
    """One notice's line; ``page_url`` is the commitment's page in the web (a deviation's button)."""
    n, c = ctx["notice"], ctx["commitment"] or {}
    period = n.get("period")
    unit = ctx["unit"]["name"] if ctx.get("unit") else c.get("party_name", "")
    kind = n["kind"]
    url, button = ctx.get("followup_url"), "Registrera uppföljningen"
    if kind == "reminder":
        asked, when = f"Lämna uppföljningen för {period}", _by_when(n)
    elif kind == "overdue":
        asked, when = f"Uppföljningen för {period} är försenad", _late(n)
    elif kind == "escalation":
        # Under the förvaltning's own heading (sections): the unit need not be named again.
        asked, when = f"Uppföljningen för {period} saknas", _late(n)
    else:
        d = ctx["deviation"]
        target = "" if d.get("target") is None else f" av målet {texts.tal(d['target'])}"
        asked = f"Avvikelse: {d['text']} {texts.tal(d['value'])}{target}"
        when = f"rapporterat för {period}" if period is not None else ""
        url, button = page_url, "Öppna åtagandet"
    late = int(n.get("days_late") or 0)
    return Item(
        kind=kind,
        effort=c.get("effort_title", ""),
        party=c.get("party_name", ""),
        unit=unit,
        unit_email=ctx["unit"]["email"] if ctx.get("unit") else "",
        agreement=ctx["agreement"]["title"],
        agreement_id=ctx["agreement"]["id"],
        commitment=c.get("id", ""),
        asked=asked,
        when=when,
        button=button if url else None,
        url=url,
        rank=(_RANK.get(kind, 9), -late, str(n.get("due") or ""), c.get("id", "")),
    )


def sections(items: Sequence[Item]) -> list[Section]:
    """One section per förvaltning when the mail holds escalations or deviations (a process owner's), else one."""
    ordered = sorted(items, key=lambda i: i.rank)
    if not any(i.kind in ("escalation", "deviation") for i in ordered):
        return [Section(title=None, email="", items=tuple(ordered))]
    by_unit: dict[str, list[Item]] = {}
    for i in ordered:
        by_unit.setdefault(i.unit, []).append(i)
    return [Section(title=unit, email=group[0].unit_email, items=tuple(group)) for unit, group in by_unit.items()]


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " och " + parts[-1]


def subject(items: Sequence[Item], contexts: Sequence[dict[str, Any]], *, weekly: int = 0) -> str:
    """What the mail asks and by when, in one line; ``weekly``: weekly summaries folded in."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for ctx in contexts:
        by_kind.setdefault(ctx["notice"]["kind"], []).append(ctx["notice"])
    parts = []
    if escalated := by_kind.get("escalation"):
        units = {i.unit for i in items if i.kind == "escalation"}
        where = _plural(len(units), "förvaltning", "förvaltningar") if len(units) > 1 else next(iter(units))
        parts.append(f"{_plural(len(escalated), 'uppföljning saknas', 'uppföljningar saknas')} hos {where}")
    if deviations := by_kind.get("deviation"):
        parts.append(_plural(len(deviations), "avvikelse", "avvikelser"))
    # Two dates in one subject read as a riddle: with reminders too, only theirs is named.
    if late := by_kind.get("overdue"):
        oldest = min((str(n["due"]) for n in late if n.get("due")), default=None)
        asked = _plural(len(late), "försenad uppföljning", "försenade uppföljningar")
        parts.append(
            f"{asked} – sista dag var {texts.datum(oldest)}" if oldest and not by_kind.get("reminder") else asked
        )
    if coming := by_kind.get("reminder"):
        first = min(coming, key=lambda n: (str(n.get("due") or "9999"), n.get("days_left") or 0))
        when = (
            "i dag"
            if first.get("days_left") == 0
            else f"senast {texts.datum(first['due'])}"
            if first.get("due")
            else ""
        )
        asked = f"{_plural(len(coming), 'uppföljning', 'uppföljningar')} att lämna"
        lead = "den första " if len(coming) > 1 else ""
        parts.append(f"{asked} – {lead}{when}" if when else asked)
    if weekly:
        parts.append("veckans genomgång")
    if parts:
        parts[0] = parts[0][0].upper() + parts[0][1:]
    return _join(parts) if parts else _plural(len(items), "meddelande", "meddelanden")


def as_context(sections_: Sequence[Section]) -> list[dict[str, Any]]:
    """Sections as plain dicts: what a template (ours or a user's) reads."""
    # A shallow dict per item (asdict deep-copies: 10 % of a grouped mail's build, bench/mail.py).
    return [{"title": s.title, "email": s.email, "entries": [_shallow(i) for i in s.items]} for s in sections_]


_FIELDS = tuple(f.name for f in fields(Item))


def _shallow(i: Item) -> dict[str, Any]:
    return {name: getattr(i, name) for name in _FIELDS}
