"""Values more than one read model or command returns: one shape for one thing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from engine.models import TransitionRecord


@dataclass(frozen=True, kw_only=True)
class Move:
    """One row of a commitment's history: a command's result, a line of ``history``, a row on its page."""

    commitment: str
    at: datetime  # in the agreement's zone when the reader gave one
    trigger: str
    from_state: str
    to_state: str
    by: str
    why: str


def move_of(record: TransitionRecord, zone: ZoneInfo | None = None) -> Move:
    return Move(
        commitment=record.commitment_id,
        at=record.at.astimezone(zone) if zone is not None else record.at,
        trigger=record.trigger,
        from_state=record.from_state,
        to_state=record.to_state,
        by=record.by,
        why=record.why,
    )
