"""Measures against targets: a recorded value below its target is a deviation.

A target is the minimum per period (MBU "utbildning två gånger per år" → 2). The
notice goes to the process owner at the next send time on a working day; key
``deviation:<commitment>:<period>:<measure>``, so a follow-up recorded again with
the same shortfall is not reported twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from rules.calendar import SwedishCalendar, send_at
from rules.model import QueueNotice, Schedule


def next_send_instant(now: datetime, s: Schedule, cal: SwedishCalendar) -> datetime:
    """The first configured send time on a working day at or after ``now``."""
    day = now.astimezone(s.zone).date()
    while True:
        day = cal.next_working_day(day)
        when = send_at(day, s.send_time, s.zone)
        if when >= now:
            return when
        day += timedelta(days=1)


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
    for m in measures:
        target = m.get("target")
        if target is None or (m.get("parties") and party not in m["parties"]):
            continue
        value = values.get(m["id"])
        if isinstance(value, int | float) and value < target:
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
