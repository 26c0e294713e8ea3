"""SmtpMailer against a real aiosmtpd on 127.0.0.1: a lazy batch, results in its order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from notifications.mailers import Outgoing, SendResult
from notifications.mailers.smtp import SmtpMailer
from notifications.message import build, message_id
from notifications.settings import SmtpSettings

SENT_AT = datetime(2027, 3, 1, 7, tzinfo=UTC)


def mail(n: int, to: str) -> Outgoing:
    return build(
        sender="samverkan@boras.example",
        sender_name="Samverkan",
        recipients=[to],
        subject=f"Påminnelse {n}",
        text=f"Hej {n}\n",
        html=f"<p>Hej {n}</p>\n",
        msg_id=message_id(f"test:{n}", "samverkan@boras.example"),
        sent_at=SENT_AT,
    )


def send(port: int, batch: Iterator[Outgoing], connections: int = 3) -> list[SendResult]:
    mailer = SmtpMailer(SmtpSettings(port=port, timeout_seconds=5, connections=connections))

    async def run() -> list[SendResult]:
        try:
            return await mailer.send_all(batch)
        finally:
            await mailer.close()

    return asyncio.run(run())


def test_a_lazy_batch_is_sent_once_each_with_one_result_per_mail_in_its_order(smtp_server: Any) -> None:
    smtp_server.sink.refuse["fel@boras.example"] = "550 5.1.1 okänd mottagare"
    smtp_server.sink.slow["enhet0@boras.example"] = 0.5  # the first mail is answered last
    addresses = ["fel@boras.example" if n % 7 == 3 else f"enhet{n}@boras.example" for n in range(40)]
    built: list[int] = []

    def batch() -> Iterator[Outgoing]:
        for n, to in enumerate(addresses):
            built.append(n)
            yield mail(n, to)

    results = send(smtp_server.port, batch())

    assert built == list(range(40))
    assert [r.status for r in results] == ["failed" if n % 7 == 3 else "sent" for n in range(40)]
    assert all("550 5.1.1" in r.error for r in results if r.status == "failed")
    arrived = [str(r.message["Subject"]) for r in smtp_server.sink.received]
    assert sorted(arrived) == sorted(f"Påminnelse {n}" for n in range(40) if n % 7 != 3)


def test_a_mail_that_cannot_be_built_stops_the_batch_with_its_own_error(smtp_server: Any) -> None:
    def batch() -> Iterator[Outgoing]:
        yield mail(1, "brab@boras.example")
        yield mail(2, "brab@boras.example")
        raise ValueError("mallen går inte att fylla i")

    with pytest.raises(ValueError, match="mallen går inte att fylla i"):
        send(smtp_server.port, batch())
