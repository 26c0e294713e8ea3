"""The message on the wire: what a mail program reads back is exactly what was rendered."""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from notifications import ics
from notifications.message import Attachment, HeaderRefused, build, message_id

SUBJECT = (
    "Påminnelse: uppföljning 2026 av MBU – Människan bakom uniformen "
    "(Polismyndigheten, lokalpolisområde Borås) senast 31 mars 2027"
)
TEXT = "Hej!\n\nRapportera antal utbildningar för 2026.\nFrågor? brab@boras.example\n"
HTML = "<p>Hej!</p>\n<p>Rapportera <strong>antal utbildningar</strong> för 2026.</p>\n"


def parse(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def sample(**kw: object) -> bytes:
    args: dict[str, object] = {
        "sender": "samverkan@boras.example",
        "sender_name": "BråB – Samverkan",
        "recipients": ["kommunpolis@polisen.example", "brab@boras.example"],
        "subject": SUBJECT,
        "text": TEXT,
        "html": HTML,
        "msg_id": message_id("reminder:boras.mbu.polis:2026:-30", "samverkan@boras.example"),
        "sent_at": datetime(2027, 3, 1, 7, tzinfo=UTC),
        "kind": "reminder",
        "reply_to": "brab@boras.example",
    }
    args.update(kw)
    return build(**args).raw  # type: ignore[arg-type]


def test_headers_read_back_exactly_including_every_space_of_a_folded_swedish_subject() -> None:
    msg = parse(sample())
    assert str(msg["Subject"]) == SUBJECT
    assert msg["From"].addresses[0].display_name == "BråB – Samverkan"
    assert msg["From"].addresses[0].addr_spec == "samverkan@boras.example"
    assert [a.addr_spec for a in msg["To"].addresses] == ["kommunpolis@polisen.example", "brab@boras.example"]
    assert str(msg["Reply-To"]) == "brab@boras.example"
    assert str(msg["X-Samverkan-Kind"]) == "reminder"
    assert msg["Message-ID"] == message_id("reminder:boras.mbu.polis:2026:-30", "samverkan@boras.example")
    assert msg["Date"].datetime == datetime(2027, 3, 1, 7, tzinfo=UTC)


def test_text_and_html_are_alternatives_with_the_rendered_content() -> None:
    msg = parse(sample())
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert plain.get_content().replace("\r\n", "\n") == TEXT  # type: ignore[attr-defined]
    assert html.get_content().replace("\r\n", "\n") == HTML  # type: ignore[attr-defined]


def test_an_ics_attachment_parses_back_with_its_deadline() -> None:
    content = ics.calendar(
        [
            ics.Deadline(
                uid="x@samverkan",
                sequence=0,
                summary=SUBJECT,
                description="Frågor: brab@boras.example",
                due=date(2027, 3, 31),
                organizer="brab@boras.example",
            )
        ],
        stamp=datetime(2027, 3, 1, 7, tzinfo=UTC),
    )
    raw = sample(
        attachments=[
            Attachment(
                filename="deadline.ics",
                content=content,
                maintype="text",
                subtype="calendar",
                params={"method": "PUBLISH"},
            )
        ]
    )
    msg = parse(raw)
    assert msg.get_content_type() == "multipart/mixed"
    (part,) = list(msg.iter_attachments())
    assert (part.get_content_type(), part.get_filename(), part.get_param("method")) == (
        "text/calendar",
        "deadline.ics",
        "PUBLISH",
    )
    event = next(iter(Calendar.from_ical(part.get_content()).walk("VEVENT")))
    assert event.decoded("dtstart") == date(2027, 3, 31)
    assert str(msg["Subject"]) == SUBJECT


def test_every_line_is_crlf_terminated_and_short() -> None:
    raw = sample(text="x" * 5000 + "\n" + "å" * 3000)
    lines = raw.split(b"\r\n")
    assert b"\n" not in b"".join(lines)
    assert max(len(line) for line in lines) <= 998
    raw.decode("ascii")  # 7-bit clean on the wire


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Hej\r\nBcc: angripare@example.com"),
        ("subject", "=?utf-8?q?Hej=0D=0ABcc=3A_x=40evil?="),
        ("sender_name", "BråB\nBcc: x@evil.example"),
        ("recipients", ["kommunpolis@polisen.example\r\nBcc: x@evil.example"]),
        ("recipients", ["inte en adress"]),
        ("reply_to", "brab@boras.example\nBcc: x@evil.example"),
    ],
)
def test_header_injection_is_refused(field: str, value: object) -> None:
    with pytest.raises(HeaderRefused):
        sample(**{field: value})


# Any printable text, with 2-, 3- and 4-octet UTF-8 characters at every cut position.
_TEXT = st.text(alphabet=st.sampled_from("a ,;\\åäöÅ–€𝄞🙂x"), min_size=0, max_size=160).filter(
    lambda s: s.strip() == s and "  " not in s
)


@given(subject=_TEXT.filter(lambda s: len(s) > 30))
@settings(max_examples=150, deadline=None)
def test_any_subject_reads_back_exactly_in_self_contained_encoded_words(subject: str) -> None:
    raw = sample(subject=subject)
    assert str(parse(raw)["Subject"]) == subject
    header = raw.split(b"\r\n\r\n", 1)[0].decode()
    for word in re.findall(r"=\?utf-8\?b\?([^?]*)\?=", header):
        base64.b64decode(word).decode()  # RFC 2047 5: no character is split between two words
