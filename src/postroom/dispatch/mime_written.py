"""The bytes of a message without attachments, written straight: byte for byte what
compat32's generator writes for the part tree of ``dispatch.mime_parts`` (a hypothesis test
holds the two together), without building the tree.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from datetime import datetime

from postroom.dispatch.mime_headers import SMTP_POLICY, top_headers
from postroom.dispatch.mime_parts import (
    LINE_BREAK,
    build_message,
    is_7bit,
    new_boundary,
    text_body,
    with_pixel,
)
from postroom.emails.rendering import EmailRecord

CRLF = "\r\n"


def written_message(
    email: EmailRecord,
    sent_at: datetime,
    pixel_url: str | None = None,
    boundary: Callable[[], str] = new_boundary,
) -> bytes:
    """The bytes ``build_message(...).as_bytes(policy=SMTP_POLICY)`` gives for an email
    without attachments, written without building the part tree. Text that UTF-8 cannot
    encode (lone surrogates) takes the tree's way, whatever it does with them."""
    try:
        return _written(email, sent_at, pixel_url, boundary)
    except UnicodeEncodeError:
        return build_message(email, sent_at, pixel_url).as_bytes(policy=SMTP_POLICY)


def _written(
    email: EmailRecord, sent_at: datetime, pixel_url: str | None, boundary: Callable[[], str]
) -> bytes:
    text = _written_part(text_body(email), "plain")
    if email.body_html:
        html = _written_part(with_pixel(email.body_html, pixel_url), "html")
        marker = boundary()
        head = f'Content-Type: multipart/alternative;{CRLF} boundary="{marker}"{CRLF}'
        body = f"--{marker}{CRLF}{text}{CRLF}--{marker}{CRLF}{html}{CRLF}--{marker}--{CRLF}"
    else:
        head, _, body = text.partition(CRLF * 2)
        head += CRLF
    folded = b"".join(
        SMTP_POLICY.fold_binary(name, value) for name, value in top_headers(email, sent_at)
    )
    return head.encode() + folded + CRLF.encode() + body.encode()


def _written_part(text: str, subtype: str) -> str:
    """One text part as compat32 writes it: its headers, a blank line, the encoded body."""
    if is_7bit(text):
        head = f'Content-Type: text/{subtype}; charset="us-ascii"{CRLF}'
        return f"{head}Content-Transfer-Encoding: 7bit{CRLF}{CRLF}{_crlf_lines(text)}"
    head = f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
    return f"{head}Content-Transfer-Encoding: base64{CRLF}{CRLF}{_base64_lines(text)}"


BASE64_LINE = 76
"""``email.base64mime.body_encode``'s line length: 57 bytes of input a line."""


def _crlf_lines(text: str) -> str:
    """Every line break (CR, LF or CRLF) written as CRLF, as the generator writes them."""
    if "\r" not in text:
        return text.replace("\n", CRLF)
    return LINE_BREAK.sub(CRLF, text)


def _base64_lines(text: str) -> str:
    """``body_encode(text.encode(), 76, CRLF)``: base64 of the whole in one call, cut into
    lines (57 input bytes make exactly one line, so the cuts fall where body_encode's do)."""
    encoded = binascii.b2a_base64(text.encode("utf-8"), newline=False).decode("ascii")
    if not encoded:
        return ""
    lines = [encoded[at : at + BASE64_LINE] for at in range(0, len(encoded), BASE64_LINE)]
    return CRLF.join(lines) + CRLF
