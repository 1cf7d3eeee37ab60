"""The message bytes themselves: encoded headers read back as written, lines stay short."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from postroom.dispatch.mime import outgoing_message
from postroom.models import EmailActivity

LONG_SUBJECT = "Grüße aus Köln ✓, and a subject that goes on well past seventy-eight characters"


def email_with(**fields: object) -> EmailActivity:
    values: dict[str, object] = {
        "id": "acti_test",
        "sender": '"Jürgen, Sales" <jurgen@sender.example.com>',
        "to_addresses": ["Bob Buyer <bob@buyer.example.com>"],
        "cc_addresses": [],
        "bcc_addresses": [],
        "subject": "Hello",
        "message_ids": ["<test.1@sender.example.com>"],
        "references": [],
        "body_text": "Hello Bob",
        "body_html": None,
        **fields,
    }
    return EmailActivity(**values)


def parsed(email: EmailActivity) -> tuple[EmailMessage, bytes]:
    data = outgoing_message(email, datetime(2026, 11, 26, tzinfo=UTC)).data
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message, data


@pytest.mark.parametrize(
    "subject", ["Grüße", LONG_SUBJECT, "x" * 300 + "é", " ".join(["plain ASCII"] * 20)]
)
def test_a_subject_reads_back_exactly_and_no_line_is_longer_than_78(subject: str) -> None:
    message, data = parsed(email_with(subject=subject))
    assert message["Subject"] == subject
    assert max(len(line) for line in data.split(b"\r\n")) <= 78


def test_display_names_are_encoded_and_many_recipients_fold() -> None:
    recipients = [f"Person {n} Ünal <person{n}@buyer.example.com>" for n in range(12)]
    message, data = parsed(email_with(to_addresses=recipients))
    assert message["From"].addresses[0].display_name == "Jürgen, Sales"
    assert [a.display_name for a in message["To"].addresses] == [
        f"Person {n} Ünal" for n in range(12)
    ]
    assert data.isascii()
    assert max(len(line) for line in data.split(b"\r\n")) <= 78


def test_a_non_ascii_body_is_utf8_and_reads_back() -> None:
    message, _data = parsed(email_with(body_text="Grüße\nzweite Zeile", body_html="<p>Grüße</p>"))
    text, html = (part.get_content() for part in message.iter_parts())
    assert (text, html) == ("Grüße\nzweite Zeile", "<p>Grüße</p>")


def test_an_address_that_is_not_ascii_cannot_go_in_a_header() -> None:
    with pytest.raises(ValueError, match="not ASCII"):
        parsed(email_with(to_addresses=["jörg@buyer.example.com"]))
