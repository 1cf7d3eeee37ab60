"""The RFC 5322 message of an email, built with the stdlib ``email`` package.

Parts are ``email.mime`` objects and headers plain strings (the compat32 model): the header
registry of ``EmailMessage`` parses every value again and cost most of a delivery's CPU.
An email without attachments (text, or text and HTML) is written straight to bytes by
``written_message``, byte for byte what compat32's generator writes for the same parts (a
hypothesis test holds the two together): the generator's walk over the part tree cost about
0.2 ms a message, five times the rest of building it. Every header still goes through the
policy's ``fold_binary`` and every body through the stdlib's own encoders. So
every header value goes through ``one_line`` first (no CR, LF or other control character can
reach the message, so no field can inject a header or a recipient), display names and the
subject are RFC 2047-encoded when they are not ASCII or hold a word too long for a line, and
an address whose own part is not ASCII is written in UTF-8 (RFC 6532), which the transport
sends only with SMTPUTF8 (its envelope address is not ASCII either). Attachment names too
long for one line are split into RFC 2231 sections, and path separators in them become ``_``.
An attachment's content type is sent as ``type/subtype`` (with a ``charset`` for text):
anything else, and the multipart and message types a base64 part may not have (RFC 2045
§6.4, RFC 2046 §5.2.1), is sent as ``application/octet-stream``. A ``Content-ID`` is one
token in angle brackets. No line is longer than 998 octets. Bcc
recipients appear only in the SMTP envelope. Bodies are 7bit when they are ASCII in short
lines, else UTF-8 in base64.
"""

from __future__ import annotations

import binascii
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
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
from urllib.parse import quote

from postroom.emails.rendering import EmailRecord
from postroom.kit.headers import one_line
from postroom.kit.text import html_to_text
from postroom.transports.base import OutgoingMessage

MAX_LINE = 998
"""RFC 5322's limit on a line, CRLF excluded."""

MAX_HEADER_LINE = 78
"""compat32 folds every header line longer than this (RFC 5322's recommended limit)."""

LONGEST_PLAIN_WORD = MAX_LINE - MAX_HEADER_LINE
"""A longer word of a subject or display name is written as RFC 2047 encoded words: compat32
never breaks a word, and the line holding it, with what may precede it, must fit in 998."""

FILENAME_SECTION = 60
"""Characters of an attachment name's RFC 2231 section (``filename*0*=...``), when the name
does not fit on one line."""


class PreFolded(str):
    """A header value already folded (no line over 998 octets), written as it is in UTF-8."""


class SmtpPolicy(Compat32):
    """compat32 with CRLF line ends that writes a header needing neither folding nor encoding
    (ASCII, one line, short) as it is: the ``Header`` machinery compat32 otherwise runs for
    every header would write the very same bytes, at several times the cost."""

    def fold_binary(self, name: str, value: str) -> bytes:
        if isinstance(value, PreFolded):
            return f"{name}: {value}{self.linesep}".encode()
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
_PATH_SEPARATORS = re.compile(r"[/\\]")
_LAST_BODY_END = re.compile(r".*(</body\s*>)", re.IGNORECASE | re.DOTALL)
"""Found in the HTML itself: ``html.lower()`` is longer than ``html`` when it holds an ``İ``,
so a position found in it falls elsewhere in the HTML."""
_NOT_IN_CONTENT_ID = re.compile(r"[\x00-\x20\x7f<>]+")
_MIME_NAME_CHARS = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_MEDIA_TYPE = re.compile(rf"\s*({_MIME_NAME_CHARS})/({_MIME_NAME_CHARS})\s*(?:;.*)?", re.DOTALL)
_CHARSET = re.compile(rf";\s*charset\s*=\s*\"?({_MIME_NAME_CHARS})\"?\s*(?:;|$)", re.IGNORECASE)
OPAQUE_TYPE = ("application", "octet-stream")
"""What an attachment whose content type cannot be sent as it is goes as."""
CONTAINER_TYPES = frozenset({"multipart", "message"})
"""Types whose parts may not be base64 (RFC 2045 §6.4): a part saying ``multipart/mixed``
would be read as parts with no boundary, ``message/rfc822`` as a message of garbage."""
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
    """No control character (CR, LF, NUL ...) can reach a header parameter, and no path
    separator a receiving client might follow out of its folder (``../x`` is ``.._x``)."""
    name = _PATH_SEPARATORS.sub("_", _CONTROL.sub(" ", filename)).strip()
    return name if name.strip(".") else "attachment"


def sent_media_type(content_type: str) -> tuple[str, str, str | None]:
    """``(maintype, subtype, charset)`` of an attachment as it is sent: the posted type
    without its parameters (but a text type's ``charset``), in lower case, or
    ``application/octet-stream`` when it is no media type or a container type."""
    match = _MEDIA_TYPE.fullmatch(content_type)
    if match is None or match[1].lower() in CONTAINER_TYPES:
        return (*OPAQUE_TYPE, None)
    maintype, subtype = match[1].lower(), match[2].lower()
    charset = _CHARSET.search(content_type) if maintype == "text" else None
    return maintype, subtype, charset[1].lower() if charset else None


def content_id(item: AttachmentPayload) -> str:
    """The part's ``Content-ID``: its ``content_id`` (else its name) as one token in angle
    brackets, so the HTML's ``cid:`` reference finds it."""
    core = _NOT_IN_CONTENT_ID.sub("", item.content_id or safe_filename(item.filename))
    return f"<{core or 'attachment'}>"


def address(value: str) -> str:
    """``"Name" <a@b>`` as one header address (the display name encoded when needed)."""
    pairs = parsed(one_line(value))
    name, addr = pairs[0] if pairs else ("", "")
    if _has_overlong_word(name):
        name = Header(name, "utf-8").encode(linesep="")
    if addr.isascii():
        return formataddr((name, addr), charset="utf-8")
    if not name:
        return addr
    # formataddr refuses an address that is not ASCII; it is written as it is (RFC 6532)
    placeholder = "a@a"
    return f"{formataddr((name, placeholder), charset='utf-8')[: -len(placeholder) - 1]}{addr}>"


def encoded_text(name: str, text: str) -> str:
    """One line of text as the value of header ``name``: RFC 2047 encoded words, folded to fit
    beside the name, when it is not ASCII or holds a word too long for a line."""
    value = one_line(text)
    if value.isascii() and not _has_overlong_word(value):
        return value
    return Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


def _has_overlong_word(text: str) -> bool:
    return len(text) > LONGEST_PLAIN_WORD and any(
        len(word) > LONGEST_PLAIN_WORD for word in text.split()
    )


def address_list(values: Iterable[str]) -> str:
    return ", ".join(address(value) for value in values)


def address_header(name: str, value: str) -> str:
    """An address header's value: as compat32 folds it, or, with an address that is not ASCII
    (RFC 6532), folded here at its spaces."""
    return value if value.isascii() else folded_at_spaces(name, value)


def folded_at_spaces(name: str, value: str) -> PreFolded:
    """``value`` with a line break before the spaces that keep each line within 78 octets
    where its words allow (a word is never broken); unfolding gives ``value`` back."""
    lines: list[str] = []
    line: str | None = None
    room = MAX_HEADER_LINE - len(name) - 2
    for word in value.split(" "):
        if line is None:
            line = word
        elif len(f"{line} {word}".encode()) > room:
            lines.append(line)
            line, room = word, MAX_HEADER_LINE - 1
        else:
            line = f"{line} {word}"
    lines.append(line or "")
    return PreFolded("\r\n ".join(lines))


@lru_cache(maxsize=4096)
def parsed(value: str) -> tuple[tuple[str, str], ...]:
    """(name, address) pairs of one recipient field (a sender repeats on every email)."""
    return tuple(getaddresses([value]))


def all_parsed(values: Iterable[str]) -> list[tuple[str, str]]:
    return [pair for value in values for pair in parsed(value)]


def bare_addresses(values: Iterable[str]) -> list[str]:
    return [addr for _name, addr in all_parsed(values) if addr]


def envelope_recipients(email: EmailRecord) -> tuple[str, ...]:
    """To, Cc and Bcc addresses, each once, in that order."""
    seen: dict[str, None] = {}
    for addr in bare_addresses([*email.to_addresses, *email.cc_addresses, *email.bcc_addresses]):
        seen.setdefault(addr, None)
    return tuple(seen)


def text_body(email: EmailRecord) -> str:
    if email.body_text:
        return email.body_text
    return html_to_text(email.body_html) if email.body_html else ""


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


def top_headers(email: EmailRecord, sent_at: datetime) -> list[tuple[str, str]]:
    """The headers after the top part's own, in the order they are written."""
    headers = [("From", address_header("From", address(email.sender or "")))]
    if email.to_addresses:
        headers.append(("To", address_header("To", address_list(email.to_addresses))))
    if email.cc_addresses:
        headers.append(("Cc", address_header("Cc", address_list(email.cc_addresses))))
    headers += [
        ("Subject", encoded_text("Subject", email.subject or "")),
        ("Date", format_datetime(sent_at)),
        ("Message-ID", one_line(email.message_ids[0])),
    ]
    if email.references:
        headers.append(("In-Reply-To", one_line(email.references[-1])))
        headers.append(("References", one_line(" ".join(email.references))))
    headers.append(("MIME-Version", "1.0"))
    return headers


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


def _is_7bit(text: str) -> bool:
    return text.isascii() and (
        len(text) <= MAX_LINE or max(map(len, text.splitlines())) <= MAX_LINE
    )


def _text_part(text: str, subtype: str) -> MIMEText:
    return _part(MIMEText(text, subtype, "us-ascii" if _is_7bit(text) else "utf-8"))


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
    """The parameter value: RFC 2231 (UTF-8) when the name is not ASCII."""
    name = safe_filename(filename)
    return name if name.isascii() else ("utf-8", "", name)


def outgoing_message(
    email: EmailRecord,
    sent_at: datetime,
    pixel_url: str | None = None,
    attachments: Sequence[AttachmentPayload] = (),
) -> OutgoingMessage:
    if attachments:
        data = build_message(email, sent_at, pixel_url, attachments).as_bytes(policy=SMTP_POLICY)
    else:
        data = written_message(email, sent_at, pixel_url)
    return OutgoingMessage(
        email_id=email.id,
        envelope_from=next(iter(bare_addresses([email.sender or ""])), ""),
        recipients=envelope_recipients(email),
        data=data,
        message_id=email.message_ids[0],
    )


# -- the same bytes, written straight ------------------------------------------------------

CRLF = "\r\n"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""What compat32's generator takes for a line break in a body (``email.generator.NLCRE``)."""


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
    if _is_7bit(text):
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
    return _LINE_BREAK.sub(CRLF, text)


def _base64_lines(text: str) -> str:
    """``body_encode(text.encode(), 76, CRLF)``: base64 of the whole in one call, cut into
    lines (57 input bytes make exactly one line, so the cuts fall where body_encode's do)."""
    encoded = binascii.b2a_base64(text.encode("utf-8"), newline=False).decode("ascii")
    if not encoded:
        return ""
    lines = [encoded[at : at + BASE64_LINE] for at in range(0, len(encoded), BASE64_LINE)]
    return CRLF.join(lines) + CRLF


def envelope(email: EmailRecord, sent_at: datetime) -> dict[str, object]:
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
