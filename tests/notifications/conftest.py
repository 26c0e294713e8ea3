"""A real SMTP server (aiosmtpd) on 127.0.0.1 that can be told to misbehave."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Sink:
    """Accepts mail and keeps it; faults are queued replies, consumed one per message."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> RCPT reply
    data_replies: list[str] = field(default_factory=list)  # next DATA replies instead of 250
    delay: float = 0.0
    slow: dict[str, float] = field(default_factory=dict)  # recipient -> this DATA's delay instead

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        delay = self.slow.get(envelope.rcpt_tos[0], self.delay) if envelope.rcpt_tos else self.delay
        if delay:
            await asyncio.sleep(delay)  # the server's own pace, not a test's wait
        if self.data_replies:
            return self.data_replies.pop(0)
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        return [str(r.message["Message-ID"]) for r in self.received]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.sink = Sink()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_port_closed() -> Iterator[SmtpServer]:
    """A port with no server yet; the test starts it when it wants."""
    server = SmtpServer(free_port())
    yield server
    server.stop()
