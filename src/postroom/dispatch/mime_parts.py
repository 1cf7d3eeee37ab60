"""The message as a tree of ``email.mime`` parts, written by compat32 (``SMTP_POLICY``).

text/plain alone, or multipart/alternative with the HTML (multipart/related with its inline
parts), in a multipart/mixed with the attached files. Bodies are 7bit when they are ASCII in
short lines, else UTF-8 in base64. Attachment names too long for one line are split into
RFC 2231 sections.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from email import encoders
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import TypeVar
from urllib.parse import quote

from postroom.dispatch.mime_attachments import (
    AttachmentPayload,
    content_id,
    safe_filename,
    sent_media_type,
)
from postroom.dispatch.mime_headers import LONGEST_PLAIN_WORD, MAX_LINE, PreFolded, top_headers
from postroom.emails.rendering import EmailRecord
from postroom.kit.text import html_to_text_part

FILENAME_SECTION = 60
"""Characters of an attachment name's RFC 2231 section (``filename*0*=...``), when the name
does not fit on one line."""

LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""What compat32's generator takes for a line break in a body (``email.generator.NLCRE``)."""

_LAST_BODY_END = re.compile(r".*(</body\s*>)", re.IGNORECASE | re.DOTALL)
"""Found in the HTML itself: ``html.lower()`` is longer than ``html`` when it holds an ``İ``,
so a position found in it falls elsewhere in the HTML."""
_P = TypeVar("_P", bound=Message)


def text_body(email: EmailRecord) -> str:
    if email.body_text:
        return email.body_text
    return html_to_text_part(email.body_html) if email.body_html else ""


def with_pixel(html: str, pixel_url: str | None) -> str:
    """The HTML with the open-tracking image just before ``</body>`` (or at the end)."""
    if not pixel_url:
        return html
    image = f'<img src="{pixel_url}" width="1" height="1" alt="" style="display:none">'
    closing = _LAST_BODY_END.match(html)
    if closing is None:
        return html + image
    return html[: closing.start(1)] + image + html[closing.start(1) :]


def build_message(
    email: EmailRecord,
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
    for name, value in top_headers(email, sent_at):
        message[name] = value
    return message


def _body(
    email: EmailRecord, pixel_url: str | None, inline: Sequence[AttachmentPayload]
) -> Message:
    """text/plain alone, or multipart/alternative with the HTML (and its inline parts)."""
    text = _text_part(text_body(email), "plain")
    if not email.body_html:
        return text
    html: Message = _text_part(with_pixel(email.body_html, pixel_url), "html")
    if inline:
        html = _multipart("related", [html, *(_inline_part(item) for item in inline)])
        html.set_param("type", "text/html")  # RFC 2387: the root part's type
    return _multipart("alternative", [text, html])


def is_7bit(text: str) -> bool:
    """ASCII in lines of at most 998 octets, as the message will have them: broken at CR,
    LF and CRLF only (``str.splitlines`` also breaks at FF, VT and FS/GS/RS, which go on the
    wire as they are, inside a line)."""
    if not text.isascii():
        return False
    if len(text) <= MAX_LINE:
        return True
    if "\r" in text:  # str.replace is twice as fast as LINE_BREAK.split
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return max(map(len, text.split("\n"))) <= MAX_LINE


def _text_part(text: str, subtype: str) -> MIMEText:
    return _part(MIMEText(text, subtype, "us-ascii" if is_7bit(text) else "utf-8"))


def _multipart(subtype: str, parts: list[Message]) -> MIMEMultipart:
    return _part(MIMEMultipart(subtype, boundary=new_boundary(), _subparts=parts))


def new_boundary() -> str:
    """A multipart boundary of 128 random bits: no part can contain it by chance, and nobody
    can predict it, so the generator need not search the parts for it (that search compiled
    a regular expression per message)."""
    return f"=_{secrets.token_hex(16)}"


def _attachment(item: AttachmentPayload) -> MIMEBase:
    part = _binary_part(item)
    _add_disposition(part, "attachment", item.filename)
    return part


def _inline_part(item: AttachmentPayload) -> MIMEBase:
    part = _binary_part(item)
    part["Content-ID"] = content_id(item)
    _add_disposition(part, "inline", item.filename)
    return part


def _add_disposition(part: MIMEBase, kind: str, filename: str) -> None:
    """``Content-Disposition`` with the name: one parameter (quoted, or RFC 2231 UTF-8 when it
    is not ASCII) when it fits a line, else RFC 2231 sections of ``FILENAME_SECTION``."""
    name = safe_filename(filename)
    encoded = quote(name.encode("utf-8"), safe="")
    if len(encoded) <= LONGEST_PLAIN_WORD:
        part.add_header("Content-Disposition", kind, filename=_filename(name))
        return
    sections = _sections(f"utf-8''{encoded}")
    parameters = [f"filename*{index}*={section}" for index, section in enumerate(sections)]
    part["Content-Disposition"] = PreFolded(";\r\n ".join([kind, *parameters]))


def _sections(encoded: str) -> list[str]:
    """The percent-encoded name cut about every ``FILENAME_SECTION`` characters, never
    inside a ``%XX``."""
    sections, start = [], 0
    while start < len(encoded):
        end = start + FILENAME_SECTION
        while start < end < len(encoded) and "%" in encoded[end - 2 : end]:
            end -= 1
        sections.append(encoded[start:end])
        start = end
    return sections


def _binary_part(item: AttachmentPayload) -> MIMEBase:
    maintype, subtype, charset = sent_media_type(item.content_type)
    part = _part(MIMEBase(maintype, subtype))
    if charset:
        part.set_param("charset", charset)
    part.set_payload(item.data)
    encoders.encode_base64(part)
    return part


def _part(part: _P) -> _P:
    """Only the top of a message says ``MIME-Version``."""
    del part["MIME-Version"]
    return part


def _filename(filename: str) -> str | tuple[str, str, str]:
    """The parameter value: RFC 2231 (UTF-8) when the name is not ASCII, or holds ``=?``
    (which receivers would decode as an RFC 2047 encoded word, showing another name)."""
    name = safe_filename(filename)
    return name if name.isascii() and "=?" not in name else ("utf-8", "", name)
