"""Time comes in through a Clock, so rules and tests never read the wall clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that shows what it is told; ``advance_to`` moves it (simulation, tests)."""

    current: datetime

    def __post_init__(self) -> None:
        if self.current.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")

    def now(self) -> datetime:
        return self.current

    def advance_to(self, instant: datetime) -> None:
        if instant < self.current:
            raise ValueError("a clock does not run backwards")
        self.current = instant


@dataclass
class ShiftedClock:
    """Real time, shifted so that it read ``start`` when created (``run --from``: a rehearsal)."""

    start: datetime
    base: Clock

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("ShiftedClock needs an aware datetime")
        self._offset = self.start - self.base.now()

    def now(self) -> datetime:
        return self.base.now() + self._offset
