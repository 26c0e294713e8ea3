"""Mailers: one protocol, one module per backend (smtp, file, console).

A mailer sends a batch and says, per message, whether it was accepted, should be
tried again (a connection error or a 4xx reply) or failed for good (a 5xx reply).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from notifications.message import Built

Status = Literal["sent", "retry", "failed"]


# A message ready for the wire (notifications.message.build).
Outgoing = Built


@dataclass(frozen=True, kw_only=True)
class SendResult:
    status: Status
    error: str = ""
    refused: dict[str, str] = field(default_factory=dict)


class Mailer(Protocol):
    name: str

    async def send_all(self, batch: Iterable[Outgoing]) -> list[SendResult]:
        """Send every message; one result per message, in order.

        ``batch`` may be lazy (the dispatcher builds each mail as it is taken): a mailer
        takes the next message only when it can send it, and takes every one.
        """
        ...

    async def close(self) -> None:
        """Release what the mailer kept between batches (connections)."""
        ...
