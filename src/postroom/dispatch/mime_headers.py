"""Header values of a message, and the policy that writes them.

Every header value goes through ``one_line`` first (no CR, LF or other control character can
reach the message, so no field can inject a header or a recipient); display names and the
subject are RFC 2047-encoded when they are not ASCII or hold a word too long for a line, a
domain that is not ASCII is written in IDNA A-labels, and an address whose own part is not
ASCII is written in UTF-8 (RFC 6532), folded here at its spaces. ``SMTP_POLICY`` is compat32
with CRLF line ends and a shortcut for the headers that need neither folding nor encoding.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from email._policybase import Compat32
from email.header import Header
from email.utils import format_datetime, formataddr

from postroom.dispatch.addresses import parsed
from postroom.emails.rendering import EmailRecord
from postroom.kit.addresses import with_ascii_domain
from postroom.kit.headers import one_line

MAX_LINE = 998
"""RFC 5322's limit on a line, CRLF excluded."""

MAX_HEADER_LINE = 78
"""compat32 folds every header line longer than this (RFC 5322's recommended limit)."""

LONGEST_PLAIN_WORD = MAX_LINE - MAX_HEADER_LINE
"""A longer word of a subject or display name is written as RFC 2047 encoded words: compat32
never breaks a word, and the line holding it, with what may precede it, must fit in 998."""


UNDISCLOSED_RECIPIENTS = "undisclosed-recipients:;"
"""The To of an email sent to Bcc recipients only: an empty group (RFC 5322 §3.4), as mail
clients write it; spam filters count a message without To against it."""


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


def address(value: str) -> str:
    """``"Name" <a@b>`` as one header address (the display name encoded when needed)."""
    pairs = parsed(one_line(value))
    name, addr = pairs[0] if pairs else ("", "")
    if not addr.isascii():
        addr = with_ascii_domain(addr)  # the domain in A-labels, as in the envelope
    if _needs_encoded_words(name):
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
    beside the name, when it is not ASCII, holds a word too long for a line or text that reads
    as an encoded word."""
    value = one_line(text)
    if value.isascii() and not _needs_encoded_words(value):
        return value
    return Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


def _needs_encoded_words(text: str) -> bool:
    """ASCII text that cannot go as it is: a word too long for a line, or ``=?`` (text such
    as ``=?utf-8?q?Caf=C3=A9?=`` written plainly is decoded by every receiver, which would
    show ``Café``; encoded, it reads back as it was posted)."""
    return "=?" in text or _has_overlong_word(text)


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


def message_ids(name: str, ids: str) -> str:
    """Message-IDs (``ids``, separated by spaces) as header ``name`` holds them: as compat32
    folds them, or, with one that is not ASCII (imported from a mail world of RFC 6532), in
    UTF-8 folded here at its spaces, which the transport sends only with SMTPUTF8. compat32
    wrote such an id as RFC 2047 encoded words, which are no msg-id: the receiver could
    thread nothing by it."""
    value = one_line(ids)
    return value if value.isascii() else folded_at_spaces(name, value)


def top_headers(email: EmailRecord, sent_at: datetime) -> list[tuple[str, str]]:
    """The headers after the top part's own, in the order they are written."""
    headers = [("From", address_header("From", address(email.sender or "")))]
    to, cc, references = email.to_addresses, email.cc_addresses, email.references
    if to:
        headers.append(("To", address_header("To", address_list(to))))
    if cc:
        headers.append(("Cc", address_header("Cc", address_list(cc))))
    if not (to or cc):
        headers.append(("To", UNDISCLOSED_RECIPIENTS))
    headers += [
        ("Subject", encoded_text("Subject", email.subject or "")),
        ("Date", format_datetime(sent_at)),
        ("Message-ID", message_ids("Message-ID", email.message_ids[0])),
    ]
    if references:
        headers.append(("In-Reply-To", message_ids("In-Reply-To", references[-1])))
        headers.append(("References", message_ids("References", " ".join(references))))
    headers.append(("MIME-Version", "1.0"))
    return headers
