"""Building the MIME message: safe headers, multipart/alternative, attachments (the .ics is notifications.ics).

Nothing a person typed reaches a header unchecked: a header value with CR, LF, another
control character or an encoded-word opener ``=?`` is refused (``rules.headers``, the
same check the agreement file's texts pass when it is read), and every address is validated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, formataddr
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from rules.errors import SamverkanError
from rules.headers import header_problem


class HeaderRefused(SamverkanError):
    """A header value that could inject headers, or an address that is not one."""

    def __init__(self, header: str, value: str, why: str) -> None:
        self.header = header
        super().__init__(f"rubrikfältet {header} vägras: {why} ({value[:60]!r})")


def check_header(header: str, value: str) -> str:
    why = header_problem(value)
    if why is not None:
        raise HeaderRefused(header, value, why)
    return value


def check_address(header: str, value: str) -> str:
    check_header(header, value)
    return _valid_address(header, value)


# The same few addresses recur in every batch; validating one costs ~0.3 ms (IDNA checks).
@lru_cache(maxsize=4096)
def _valid_address(header: str, value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise HeaderRefused(header, value, f"ingen giltig e-postadress: {exc}") from None


def message_id(key: str, sender: str) -> str:
    """Stable for a notice: a retry or a resend after a crash carries the same Message-ID."""
    domain = sender.rsplit("@", 1)[1]
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def _utf8_pieces(data: bytes, first: int, rest: int) -> list[bytes]:
    """``data`` cut into pieces of at most ``first``, then ``rest`` octets, never inside a UTF-8 sequence."""
    pieces: list[bytes] = []
    limit = first
    while len(data) > limit:
        cut = limit
        while data[cut] & 0xC0 == 0x80:  # a continuation octet: its character began earlier
            cut -= 1
        pieces.append(data[:cut])
        data = data[cut:]
        limit = rest
    pieces.append(data)
    return pieces


@dataclass(frozen=True, kw_only=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str
    params: dict[str, str]


def _crlf(text: str) -> str:
    # Text parts carry canonical CRLF line ends (RFC 2045).
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _b64(data: bytes) -> bytes:
    # base64 in lines of 76 characters, CRLF-terminated (RFC 2045 6.8); in one call rather
    # than base64.encodebytes' call per 57 octets, then cut.
    encoded = binascii.b2a_base64(data, newline=False)
    return b"\r\n".join([encoded[i : i + 76] for i in range(0, len(encoded), 76)]) + b"\r\n"


def encoded_words(value: str) -> str:
    """``value`` as RFC 2047 base64 encoded words when it is not plain ASCII.

    Each word holds at most 45 bytes of whole characters (72 characters a word, under
    the limit of 75); the space between two words is not part of the text (RFC 2047
    6.2), so every space of the value stays inside a word and survives. Written out
    because ``email.header.Header`` quoted-printable splitting cost 2 ms a subject.
    """
    if value.isascii():
        return value
    words = _utf8_pieces(value.encode(), 45, 45)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode()}?=" for w in words)


def _mailbox(name: str, address: str) -> str:
    if name.isascii():
        return formataddr((name, address))
    return f"{encoded_words(name)} <{address}>"


# A batch is built at one instant: the same Date for all its mails.
_date_header = lru_cache(maxsize=16)(format_datetime)


@dataclass(frozen=True, kw_only=True)
class Built:
    """A message ready for the wire: its bytes, and what the mailers need to know about it."""

    raw: bytes
    sender: str
    recipients: tuple[str, ...]
    message_id: str
    kind: str


def build(
    *,
    sender: str,
    sender_name: str,
    recipients: Sequence[str],
    subject: str,
    text: str,
    html: str,
    msg_id: str,
    sent_at: datetime,
    kind: str = "meddelande",
    reply_to: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> Built:
    """The message as bytes: multipart/alternative (text, HTML), in multipart/mixed with attachments.

    Written directly rather than through ``email.message``: ``EmailMessage`` with
    ``policy.default`` took 4 ms a message in header parsing and refolding, and the
    compat32 generator still re-encodes every header of every part when flattening
    (bench/mail.py: most of the dispatcher's time); on 3.11.7 ``policy.default`` also
    dropped the space between two encoded words of a folded Swedish subject. Every
    header value passes ``check_header`` / ``check_address`` first; non-ASCII text goes
    out as RFC 2047 encoded words from ``email.header.Header``, bodies as base64.
    tests/notifications/test_message.py parses the result back with ``policy.default``.
    """
    subject = check_header("Subject", subject)
    sender = check_address("From", sender)
    to = tuple(check_address("To", r) for r in recipients)
    name = check_header("From", sender_name)
    digest = hashlib.sha256(msg_id.encode()).hexdigest()[:24]
    alt, mixed = f"alt-{digest}", f"mix-{digest}"
    headers = [
        f"From: {_mailbox(name, sender)}",
        f"To: {', '.join(to)}",
        f"Subject: {encoded_words(subject)}",
        f"Date: {_date_header(sent_at)}",
        f"Message-ID: {check_header('Message-ID', msg_id)}",
    ]
    if reply_to:
        headers.append(f"Reply-To: {check_address('Reply-To', reply_to)}")
    headers += [
        "Auto-Submitted: auto-generated",
        f"X-Samverkan-Kind: {check_header('X-Samverkan-Kind', kind)}",
        "MIME-Version: 1.0",
    ]
    body = [
        f"--{alt}",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: base64",
        "",
        _b64(_crlf(text).encode()).decode(),
        f"--{alt}",
        'Content-Type: text/html; charset="utf-8"',
        "Content-Transfer-Encoding: base64",
        "",
        _b64(_crlf(html).encode()).decode(),
        f"--{alt}--",
    ]
    if attachments:
        parts = [f"--{mixed}", f'Content-Type: multipart/alternative; boundary="{alt}"', "", *body]
        for a in attachments:
            params = "".join(f'; {k}="{check_header("param", v)}"' for k, v in a.params.items())
            parts += [
                f"--{mixed}",
                f"Content-Type: {a.maintype}/{a.subtype}{params}",
                "Content-Transfer-Encoding: base64",
                f'Content-Disposition: attachment; filename="{check_header("filename", a.filename)}"',
                "",
                _b64(a.content).decode(),
            ]
        parts.append(f"--{mixed}--")
        headers.append(f'Content-Type: multipart/mixed; boundary="{mixed}"')
    else:
        parts = body
        headers.append(f'Content-Type: multipart/alternative; boundary="{alt}"')
    raw = "\r\n".join(headers) + "\r\n\r\n" + "\r\n".join(p.rstrip("\r\n") for p in parts) + "\r\n"
    return Built(raw=raw.encode("ascii"), sender=sender, recipients=to, message_id=msg_id, kind=kind)
