"""The hours spent on a commitment in a period, as a follow-up may give them: one rule for every edge.

A person types them (the CLI's ``--hours``, the web form's Timmar) and the engine stores
them; each asks this module, so the CLI, the web and ``record_follow_up`` refuse the same
values. Python's ``float`` also reads ``inf``, ``nan`` and ``1e309``; stored, they became
"inf timmar" in the yearly report. Hours are finite, at least 0 and at most
``MAX_HOURS``: a year of one unit's work on one commitment is a few people at most, and
10,000 hours is more than five full-time years (about 1,700 hours each), so any value
above it is a typing mistake, not a report.
"""

from __future__ import annotations

import math

from rules.errors import InvalidValue

MAX_HOURS = 10_000.0
# Shown with the message: the bound as a Swedish reader writes it.
RANGE_TEXT = "mellan 0 och 10 000"


def _refuse(shown: str) -> InvalidValue:
    return InvalidValue("hours", f"ska vara ett tal {RANGE_TEXT}, inte {shown}")


def check(value: float) -> float:
    """``value`` if it is a number of hours that can be stored, else InvalidValue('hours', …)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _refuse(repr(value))
    if not math.isfinite(value) or not 0 <= value <= MAX_HOURS:
        raise _refuse(f"{value:g}")
    return float(value)


def parse(text: str) -> float | None:
    """Hours as a person typed them (``12,5``, ``12.5``, ``1 200``); None when left empty."""
    typed = text.strip()
    if not typed:
        return None
    try:
        return check(float(typed.replace(",", ".").replace(" ", "").replace("\u00a0", "")))
    except (ValueError, InvalidValue):  # float() refuses text; check() what is no number of hours
        raise _refuse(f"'{typed}'") from None
