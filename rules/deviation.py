"""Measures against targets: a recorded value below its target is a deviation.

A target is the minimum per period (MBU "utbildning två gånger per år" → 2). The
notice goes to the process owner in the current or next send slot; key
``deviation:<commitment>:<period>:<measure>``, so a follow-up recorded again with
the same shortfall is not reported twice.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from rules.calendar import SwedishCalendar, slot
from rules.model import QueueNotice, Schedule

M = TypeVar("M", bound=Mapping[str, Any])


def next_send_instant(now: datetime, s: Schedule, cal: SwedishCalendar) -> datetime:
    """The send slot a deviation found at ``now`` goes in (rules.calendar.slot)."""
    return slot(now, s.send_time, s.zone, cal)


def applies_to(parties: Collection[str] | None, party: str) -> bool:
    """Whether a measure naming ``parties`` is ``party``'s to report (none named: every party's)."""
    return not parties or party in parties


def for_party(measures: Iterable[M], party: str) -> list[M]:
    """The measures of an insats that ``party``'s commitment reports, in the plan's order."""
    return [m for m in measures if applies_to(m.get("parties"), party)]


def falls_short(value: Any, target: float | None) -> bool:
    """Whether one recorded value is below its measure's target.

    Only a count can be: a text value or a measure without a target never is, nor a
    bool, which Python would compare as 0 or 1.
    """
    return target is not None and isinstance(value, int | float) and not isinstance(value, bool) and value < target


def below_target(
    measures: Sequence[Mapping[str, Any]], party: str, values: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    """The measures of ``party`` whose recorded value is a number below the measure's target."""
    return [m for m in for_party(measures, party) if falls_short(values.get(m["id"]), m.get("target"))]


def evaluate(
    *,
    commitment: str,
    agreement: str,
    period: int,
    party: str,
    values: Mapping[str, Any],
    measures: Sequence[Mapping[str, Any]],
    owner_email: str,
    now: datetime,
    s: Schedule,
    cal: SwedishCalendar,
) -> tuple[QueueNotice, ...]:
    out: list[QueueNotice] = []
    for m in below_target(measures, party, values):
        target, value = m["target"], values[m["id"]]
        out.append(
            QueueNotice(
                key=f"deviation:{commitment}:{period}:{m['id']}",
                kind="deviation",
                recipients=(owner_email,),
                send_at=next_send_instant(now, s, cal),
                agreement=agreement,
                commitment=commitment,
                period=period,
                data={"measure": m["id"], "text": m["text"], "value": value, "target": target},
            )
        )
    return tuple(out)
