"""The RFC 5322 message of an email, built with the stdlib ``email`` package.

Parts are ``email.mime`` objects and headers plain strings (the compat32 model): the header
registry of ``EmailMessage`` parses every value again and cost most of a delivery's CPU. So
every header value goes through ``one_line`` first (no CR, LF or other control character can
reach the message, so no field can inject a header or a recipient), display names and the
subject are RFC 2047-encoded when they are not ASCII, and an address whose own part is not
ASCII is refused (that would need SMTPUTF8 in the headers). Bcc recipients appear only in the
SMTP envelope. Bodies are 7bit when they are ASCII in short lines, else UTF-8 in base64.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import encoders
from email._policybase import Compat32
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, getaddresses
from functools import lru_cache
from typing import TypeVar

from postroom.kit.headers import one_line
from postroom.kit.text import html_to_text
from postroom.models import EmailActivity
from postroom.transports.base import OutgoingMessage

MAX_LINE = 998
"""RFC 5322's limit on a line, CRLF excluded."""

MAX_HEADER_LINE = 78
"""compat32 folds every header line longer than this (RFC 5322's recommended limit)."""


class SmtpPolicy(Compat32):
    """compat32 with CRLF line ends that writes a header needing neither folding nor encoding
    (ASCII, one line, short) as it is: the ``Header`` machinery compat32 otherwise runs for
    every header would write the very same bytes, at several times the cost."""

    def fold_binary(self, name: str, value: str) -> bytes:
        if _fits_one_line(name, value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


def _fits_one_line(name: str, value: str) -> bool:
    return (
        isinstance(value, str)
        and len(name) + 2 + len(value) <= MAX_HEADER_LINE
        and value.isascii()
        and value.isprintable()
        and not value.startswith((" ", "\t"))
        and not value.endswith((" ", "\t"))
        and "  " not in value
    )


SMTP_POLICY = SmtpPolicy(linesep="\r\n")
"""compat32 writes the message twice as fast as ``policy.SMTP``; it folds every header at 78."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_P = TypeVar("_P", bound=Message)


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


def address(value: str) -> str:
    """``"Name" <a@b>`` as one header address (the display name encoded when needed)."""
    pairs = parsed(one_line(value))
    name, addr = pairs[0] if pairs else ("", "")
    if not addr.isascii():
        raise ValueError(f"{addr!r}: an address that is not ASCII cannot go in a header")
    return formataddr((name, addr), charset="utf-8")


def encoded_text(name: str, text: str) -> str:
    """One line of text as the value of header ``name``: RFC 2047 encoded words, folded to fit
    beside the name, when it is not ASCII."""
    value = one_line(text)
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


def address_list(values: Iterable[str]) -> str:
    return ", ".join(address(value) for value in values)


@lru_cache(maxsize=4096)
def parsed(value: str) -> tuple[tuple[str, str], ...]:
    """(name, address) pairs of one recipient field (a sender repeats on every email)."""
    return tuple(getaddresses([value]))


def all_parsed(values: Iterable[str]) -> list[tuple[str, str]]:
    return [pair for value in values for pair in parsed(value)]


def bare_addresses(values: Iterable[str]) -> list[str]:
    return [addr for _name, addr in all_parsed(values) if addr]


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
) -> Message:
    inline = [item for item in attachments if item.inline or item.content_id]
    attached = [item for item in attachments if not (item.inline or item.content_id)]
    if not email.body_html:
        attached, inline = [*inline, *attached], []
    message = _body(email, pixel_url, inline)
    if attached:
        message = _multipart("mixed", [message, *(_attachment(item) for item in attached)])
    message["From"] = address(email.sender or "")
    if email.to_addresses:
        message["To"] = address_list(email.to_addresses)
    if email.cc_addresses:
        message["Cc"] = address_list(email.cc_addresses)
    message["Subject"] = encoded_text("Subject", email.subject or "")
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = one_line(email.message_ids[0])
    if email.references:
        message["In-Reply-To"] = one_line(email.references[-1])
        message["References"] = one_line(" ".join(email.references))
    message["MIME-Version"] = "1.0"
    return message


def _body(
    email: EmailActivity, pixel_url: str | None, inline: Sequence[AttachmentPayload]
) -> Message:
    """text/plain alone, or multipart/alternative with the HTML (and its inline parts)."""
    text = _text_part(text_body(email), "plain")
    if not email.body_html:
        return text
    html: Message = _text_part(with_pixel(email.body_html, pixel_url), "html")
    if inline:
        html = _multipart("related", [html, *(_inline_part(item) for item in inline)])
    return _multipart("alternative", [text, html])


def _text_part(text: str, subtype: str) -> MIMEText:
    if text.isascii() and all(len(line) <= MAX_LINE for line in text.splitlines()):
        return _part(MIMEText(text, subtype, "us-ascii"))
    return _part(MIMEText(text, subtype, "utf-8"))


def _multipart(subtype: str, parts: list[Message]) -> MIMEMultipart:
    return _part(MIMEMultipart(subtype, boundary=new_boundary(), _subparts=parts))


def new_boundary() -> str:
    """A multipart boundary of 128 random bits: no part can contain it by chance, and nobody
    can predict it, so the generator need not search the parts for it (that search compiled
    a regular expression per message)."""
    return f"=_{secrets.token_hex(16)}"


def _attachment(item: AttachmentPayload) -> MIMEBase:
    part = _binary_part(item)
    part.add_header("Content-Disposition", "attachment", filename=_filename(item.filename))
    return part


def _inline_part(item: AttachmentPayload) -> MIMEBase:
    part = _binary_part(item)
    cid = f"<{_CONTROL.sub('', item.content_id or safe_filename(item.filename)).strip('<>')}>"
    part["Content-ID"] = cid
    part.add_header("Content-Disposition", "inline", filename=_filename(item.filename))
    return part


def _binary_part(item: AttachmentPayload) -> MIMEBase:
    maintype, _, subtype = item.content_type.partition("/")
    part = _part(MIMEBase(one_line(maintype) or "application", one_line(subtype) or "octet-stream"))
    part.set_payload(item.data)
    encoders.encode_base64(part)
    return part


def _part(part: _P) -> _P:
    """Only the top of a message says ``MIME-Version``."""
    del part["MIME-Version"]
    return part


def _filename(filename: str) -> str | tuple[str, str, str]:
    """The parameter value: RFC 2231 (UTF-8) when the name is not ASCII."""
    name = safe_filename(filename)
    return name if name.isascii() else ("utf-8", "", name)


def outgoing_message(
    email: EmailActivity,
    sent_at: datetime,
    pixel_url: str | None = None,
    attachments: Sequence[AttachmentPayload] = (),
) -> OutgoingMessage:
    message = build_message(email, sent_at, pixel_url, attachments)
    return OutgoingMessage(
        email_id=email.id,
        envelope_from=next(iter(bare_addresses([email.sender or ""])), ""),
        recipients=envelope_recipients(email),
        data=message.as_bytes(policy=SMTP_POLICY),
        message_id=email.message_ids[0],
    )


def envelope(email: EmailActivity, sent_at: datetime) -> dict[str, object]:
    """Close's ``envelope`` object of a sent email."""

    def people(values: Iterable[str]) -> list[dict[str, str]]:
        return [{"email": addr, "name": name} for name, addr in all_parsed(values)]

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
