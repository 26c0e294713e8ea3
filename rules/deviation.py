"""Measures against targets: a recorded value below its target is a deviation.

A target is the minimum per period (MBU "utbildning två gånger per år" → 2). The
notice goes to the process owner in the current or next send slot; key
``deviation:<commitment>:<period>:<measure>``, so a follow-up recorded again with
the same shortfall is not reported twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rules.calendar import SwedishCalendar, slot
from rules.model import QueueNotice, Schedule


def next_send_instant(now: datetime, s: Schedule, cal: SwedishCalendar) -> datetime:
    """The send slot a deviation found at ``now`` goes in (rules.calendar.slot)."""
    return slot(now, s.send_time, s.zone, cal)


def below_target(
    measures: Sequence[Mapping[str, Any]], party: str, values: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    """The measures of ``party`` whose recorded value is a number below the measure's target."""
    out = []
    for m in measures:
        target = m.get("target")
        if target is None or (m.get("parties") and party not in m["parties"]):
            continue
        value = values.get(m["id"])
        if isinstance(value, int | float) and value < target:
            out.append(m)
    return out


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
