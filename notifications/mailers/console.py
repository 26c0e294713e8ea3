"""Prints each message's headers and plain-text part; for trying things out."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from email import message_from_bytes, policy
from email.message import EmailMessage

from notifications.mailers import Outgoing, SendResult


class ConsoleMailer:
    name = "console"

    async def send_all(self, batch: Iterable[Outgoing]) -> list[SendResult]:
        results = []
        for item in batch:
            msg = message_from_bytes(item.raw, policy=policy.default)
            assert isinstance(msg, EmailMessage)
            body = msg.get_body(preferencelist=("plain",))
            text = body.get_content() if body is not None else ""
            sys.stdout.write(f"Till: {msg['To']}\nÄmne: {msg['Subject']}\n\n{text}\n{'-' * 72}\n")
            results.append(SendResult(status="sent"))
        return results

    async def close(self) -> None:
        return None
