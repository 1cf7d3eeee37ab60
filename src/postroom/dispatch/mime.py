"""The RFC 5322 message of an email, built with the stdlib ``email`` package.

Headers go through ``email.headerregistry``, which refuses CR/LF in values, so no field can
inject a header or a recipient. Bcc recipients appear only in the SMTP envelope.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr

from postroom.kit.text import html_to_text
from postroom.models import EmailActivity
from postroom.transports.base import OutgoingMessage

SMTP_POLICY = policy.SMTP.clone(max_line_length=998)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class AttachmentPayload:
    """An attachment's bytes and how to present them; ``content_id`` makes it inline."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False


def safe_filename(filename: str) -> str:
    """No control character (CR, LF, NUL ...) can reach a header parameter."""
    return _CONTROL.sub(" ", filename).strip() or "attachment"


def address(value: str) -> Address:
    """``"Name" <a@b>`` as a header address (the display name is encoded when needed)."""
    name, addr = parseaddr(value)
    return Address(display_name=name, addr_spec=addr)


def bare_addresses(values: Iterable[str]) -> list[str]:
    return [addr for _name, addr in getaddresses(list(values)) if addr]


def envelope_recipients(email: EmailActivity) -> tuple[str, ...]:
    """To, Cc and Bcc addresses, each once, in that order."""
    seen: dict[str, None] = {}
    for addr in bare_addresses([*email.to_addresses, *email.cc_addresses, *email.bcc_addresses]):
        seen.setdefault(addr, None)
    return tuple(seen)


def text_body(email: EmailActivity) -> str:
    if email.body_text:
        return email.body_text
    return html_to_text(email.body_html) if email.body_html else ""


def with_pixel(html: str, pixel_url: str | None) -> str:
    """The HTML with the open-tracking image just before ``</body>`` (or at the end)."""
    if not pixel_url:
        return html
    image = f'<img src="{pixel_url}" width="1" height="1" alt="" style="display:none">'
    closing = html.lower().rfind("</body>")
    if closing == -1:
        return html + image
    return html[:closing] + image + html[closing:]


def build_message(
    email: EmailActivity,
    sent_at: datetime,
    pixel_url: str | None = None,
    attachments: Sequence[AttachmentPayload] = (),
) -> EmailMessage:
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = address(email.sender or "")
    if email.to_addresses:
        message["To"] = [address(value) for value in email.to_addresses]
    if email.cc_addresses:
        message["Cc"] = [address(value) for value in email.cc_addresses]
    message["Subject"] = email.subject or ""
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = email.message_ids[0]
    _thread_headers(message, email.references)
    message.set_content(text_body(email), charset="utf-8")
    if email.body_html:
        html = with_pixel(email.body_html, pixel_url)
        message.add_alternative(html, subtype="html", charset="utf-8")
    _attach(message, attachments)
    return message


def _attach(message: EmailMessage, attachments: Sequence[AttachmentPayload]) -> None:
    html_part = _html_part(message)
    for item in attachments:
        maintype, _, subtype = item.content_type.partition("/")
        maintype, subtype = maintype or "application", subtype or "octet-stream"
        filename = safe_filename(item.filename)
        if (item.inline or item.content_id) and html_part is not None:
            cid = f"<{_CONTROL.sub('', item.content_id or filename).strip('<>')}>"
            html_part.add_related(
                item.data, maintype, subtype, cid=cid, filename=filename, disposition="inline"
            )
        else:
            message.add_attachment(item.data, maintype, subtype, filename=filename)


def _html_part(message: EmailMessage) -> EmailMessage | None:
    for part in message.walk():
        if part.get_content_type() == "text/html" and isinstance(part, EmailMessage):
            return part
    return None


def _thread_headers(message: EmailMessage, references: list[str]) -> None:
    if references:
        message["In-Reply-To"] = references[-1]
        message["References"] = " ".join(references)


def outgoing_message(
    email: EmailActivity,
    sent_at: datetime,
    pixel_url: str | None = None,
    attachments: Sequence[AttachmentPayload] = (),
) -> OutgoingMessage:
    message = build_message(email, sent_at, pixel_url, attachments)
    return OutgoingMessage(
        email_id=email.id,
        envelope_from=parseaddr(email.sender or "")[1],
        recipients=envelope_recipients(email),
        data=message.as_bytes(policy=SMTP_POLICY),
        message_id=email.message_ids[0],
    )


def envelope(email: EmailActivity, sent_at: datetime) -> dict[str, object]:
    """Close's ``envelope`` object of a sent email."""

    def people(values: Iterable[str]) -> list[dict[str, str]]:
        return [{"email": addr, "name": name} for name, addr in getaddresses(list(values))]

    return {
        "from": people([email.sender or ""]),
        "sender": people([email.sender or ""]),
        "to": people(email.to_addresses),
        "cc": people(email.cc_addresses),
        "bcc": people(email.bcc_addresses),
        "reply_to": [],
        "subject": email.subject or "",
        "date": format_datetime(sent_at),
        "message_id": email.message_ids[0],
        "in_reply_to": email.references[-1] if email.references else None,
        "is_autoreply": False,
    }
