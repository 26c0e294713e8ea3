"""SMTP through aiosmtplib: a few reused connections in parallel.

Measured (docs/libraries.md): one reused connection is ~2.5× a new connection per
message, and 4 connections in parallel add more when the server is slow. Each worker
keeps its connection across messages and reconnects after the server drops it.

Replies: 4xx or a connection error → try again later; 5xx → failed for good, with
the server's answer. A partial refusal (some recipients 5xx) is sent, with the
refused addresses kept. A login the server refuses (535) is about no message: the
settings are wrong, every mail would fail alike, so ``send_all`` raises
``MailerRefused`` (one Swedish line naming the settings) and the dispatcher puts the
batch back as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sized

import aiosmtplib

from notifications.mailers import Outgoing, SendResult
from notifications.settings import SmtpSettings
from rules.errors import InvalidValue

_CONNECTION_ERRORS = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    aiosmtplib.SMTPConnectTimeoutError,
    aiosmtplib.SMTPReadTimeoutError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)


def _answer(code: int, message: str) -> str:
    return f"{code} {message}".strip()


class MailerRefused(InvalidValue):
    """The SMTP server refuses the settings themselves (the login): no message can go until they change."""


def _login_refused(settings: SmtpSettings, exc: aiosmtplib.SMTPResponseException) -> MailerRefused:
    answer = " ".join(_answer(exc.code, exc.message).split())[:200]
    return MailerRefused(
        "smtp.user",
        f"SMTP-servern {settings.host}:{settings.port} godtar inte inloggningen som {settings.user!r} ({answer}); "
        f"kontrollera smtp.user och lösenordet i {settings.password_env or 'smtp.password_env'}. Inget skickades.",
    )


class SmtpMailer:
    name = "smtp"

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        # Connections kept between batches of one delivery run; all belong to its event loop.
        self._idle: list[aiosmtplib.SMTP | None] = []

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.security == "tls",
            # False, not None: None would mean "STARTTLS if offered", a silent downgrade path.
            start_tls=s.security == "starttls",
            validate_certs=s.validate_certs,
            timeout=s.timeout_seconds,
            username=s.user,
            password=s.password(),
        )

    async def send_all(self, batch: Iterable[Outgoing]) -> list[SendResult]:
        """Send on up to ``connections`` connections, kept open for the next batch (``close`` ends them).

        A lazy ``batch`` is read ahead by one message per connection, one message at a
        time, in the gaps while every connection waits for the server's reply: the
        client builds the next mails while the server works on the ones sent, and a
        connection that gets its reply finds the next mail ready (bench/mail.py).
        """
        results: dict[int, SendResult] = {}
        workers = self.settings.connections
        if isinstance(batch, Sized):
            workers = min(workers, len(batch)) or 1
        while len(self._idle) < workers:
            self._idle.append(None)
        ready: asyncio.Queue[tuple[int, Outgoing] | None] = asyncio.Queue(maxsize=workers)

        async def read_ahead() -> None:
            for index, item in enumerate(batch):
                await ready.put((index, item))
                await asyncio.sleep(0)  # replies that arrived during this build go first
            for _ in range(workers):
                await ready.put(None)

        async def worker(slot: int) -> None:
            client = self._idle[slot]
            try:
                while (taken := await ready.get()) is not None:
                    index, item = taken
                    if client is None or not client.is_connected:
                        client = self._client()
                        try:
                            await client.connect()
                        except aiosmtplib.SMTPAuthenticationError as exc:
                            raise _login_refused(self.settings, exc) from None
                        except _CONNECTION_ERRORS as exc:
                            client = None
                            results[index] = SendResult(status="retry", error=f"anslutning: {exc}")
                            continue
                    results[index] = await self._send_one(client, item)
            finally:
                self._idle[slot] = client  # close() ends it, whatever happened

        # A TaskGroup: if building a mail fails, the workers are cancelled, not left waiting.
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(read_ahead())
                for slot in range(workers):
                    group.create_task(worker(slot))
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None  # the error itself, as the caller knows it
        return [results[i] for i in range(len(results))]

    async def close(self) -> None:
        for client in self._idle:
            if client is not None and client.is_connected:
                try:
                    await client.quit()
                except (*_CONNECTION_ERRORS, aiosmtplib.SMTPException):
                    client.close()
        self._idle = []

    async def _send_one(self, client: aiosmtplib.SMTP, item: Outgoing) -> SendResult:
        try:
            refused, _ = await client.sendmail(item.sender, list(item.recipients), item.raw)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = {r.recipient: _answer(r.code, r.message) for r in exc.recipients}
            temporary = all(r.code // 100 == 4 for r in exc.recipients)
            return SendResult(status="retry" if temporary else "failed", error="; ".join(codes.values()), refused=codes)
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code // 100 == 4:
                return SendResult(status="retry", error=_answer(exc.code, exc.message))
            return SendResult(status="failed", error=_answer(exc.code, exc.message))
        except _CONNECTION_ERRORS as exc:
            client.close()
            return SendResult(status="retry", error=f"anslutning: {exc}")
        if refused:
            answers = {addr: _answer(r.code, r.message) for addr, r in refused.items()}
            return SendResult(status="sent", error="; ".join(answers.values()), refused=answers)
        return SendResult(status="sent")
