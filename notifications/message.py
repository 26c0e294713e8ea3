"""Building the MIME message: safe headers, multipart/alternative, an .ics deadline.

Nothing a person typed reaches a header unchecked. Python 3.11.7 and 3.12.1 write an
RFC 2047 encoded word such as ``=?utf-8?q?Hej=0D=0ABcc=3A_x=40evil?=`` in a Subject
out as a real header line (CVE-2024-6923, LIBRARIES.md), so a header value with CR,
LF or an encoded-word opener ``=?`` is refused, and every address is validated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from email_validator import EmailNotValidError, validate_email
from icalendar import Alarm, Calendar, Event

from engine.errors import SamverkanError


class HeaderRefused(SamverkanError):
    """A header value that could inject headers, or an address that is not one."""

    def __init__(self, header: str, value: str, why: str) -> None:
        self.header = header
        super().__init__(f"rubrikfältet {header} vägras: {why} ({value[:60]!r})")


def check_header(header: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise HeaderRefused(header, value, "innehåller radbrytning")
    if "=?" in value:
        raise HeaderRefused(header, value, "innehåller en kodad ord-sekvens '=?'")
    if any(ord(ch) < 32 for ch in value):
        raise HeaderRefused(header, value, "innehåller styrtecken")
    return value


def check_address(header: str, value: str) -> str:
    check_header(header, value)
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise HeaderRefused(header, value, f"ingen giltig e-postadress: {exc}") from None


def message_id(key: str, sender: str) -> str:
    """Stable for a notice: a retry or a resend after a crash carries the same Message-ID."""
    domain = sender.rsplit("@", 1)[1]
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def deadline_ics(*, uid: str, summary: str, description: str, due: date, organizer: str, stamp: datetime) -> bytes:
    """An all-day event on the deadline with a reminder alarm the day before."""
    cal = Calendar()
    cal.add("prodid", "-//samverkan//SE")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", due)
    event.add("dtend", due + timedelta(days=1))
    event.add("summary", summary)
    event.add("description", description)
    event.add("organizer", f"mailto:{organizer}")
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", summary)
    alarm.add("trigger", timedelta(days=-1))
    event.add_component(alarm)
    cal.add_component(event)
    return bytes(cal.to_ical())


@dataclass(frozen=True, kw_only=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str
    params: dict[str, str]


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
) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = check_header("Subject", subject)
    msg["From"] = Address(display_name=check_header("From", sender_name), addr_spec=check_address("From", sender))
    msg["To"] = ", ".join(check_address("To", r) for r in recipients)
    if reply_to:
        msg["Reply-To"] = check_address("Reply-To", reply_to)
    msg["Message-ID"] = check_header("Message-ID", msg_id)
    msg["Date"] = format_datetime(sent_at)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Samverkan-Kind"] = check_header("X-Samverkan-Kind", kind)
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    for a in attachments:
        msg.add_attachment(a.content, maintype=a.maintype, subtype=a.subtype, filename=a.filename, params=a.params)
    return msg
