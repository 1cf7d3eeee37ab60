"""Text that ends up in a mail header: one line, no control characters."""

from __future__ import annotations

import re
import secrets

BREAKING = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
"""Every character that ends a line somewhere (CR, LF, VT, FF, FS/GS/RS, NEL, LS, PS) or is
a control character; a horizontal tab is allowed."""


_MIME_NAME = r"[A-Za-z0-9!#$&^_.+-]+"
MEDIA_TYPE = re.compile(rf"^{_MIME_NAME}/{_MIME_NAME}(\s*;[^;]+)*$")
"""``type/subtype`` (RFC 6838's restricted names), then any parameters."""


def breaks_header(text: str) -> bool:
    return BREAKING.search(text) is not None


def is_media_type(text: str) -> bool:
    """``text`` is a media type such as ``application/pdf`` (parameters allowed) on one line,
    in ASCII: it is sent as an HTTP header, which carries Latin-1 at most (RFC 9110 §5.5),
    and a MIME parameter with other characters must be RFC 2231-encoded anyway."""
    if not text.isascii() or breaks_header(text):
        return False
    return MEDIA_TYPE.fullmatch(text.strip()) is not None


def is_content_id(text: str) -> bool:
    """``text`` can be a part's ``Content-ID`` as it is: one token of visible ASCII, in angle
    brackets or not, which HTML names as ``cid:`` followed by it (without the brackets)."""
    core = _bracketed_token(text)
    return core is not None and core.isascii()


def one_line(text: str) -> str:
    """``text`` with every line break or control character replaced by a space."""
    if text.isprintable():  # the common case, without the regular expression
        return text.strip()
    return BREAKING.sub(" ", text).strip()


def as_message_id(text: str) -> str:
    """``text`` as a Message-ID is written (RFC 5322 §3.6.4, ``msg-id``): one token in angle
    brackets, which are added where missing (``abc@host`` is ``<abc@host>``). A ValueError
    when nothing is left, or it holds a space, a control character or another bracket."""
    core = _bracketed_token(text)
    if core is None:
        raise ValueError(f"Not a Message-ID: {text!r}.")
    return f"<{core}>"


def _bracketed_token(text: str) -> str | None:
    """``text`` without the angle brackets around it, when what is left is one token (not
    empty, printable, no space and no other bracket); else None."""
    core = text.strip().removeprefix("<").removesuffix(">")
    return core if core and core.isprintable() and not set(core) & set(" <>") else None


def new_message_id(domain: str) -> str:
    """A new Message-ID on ``domain`` (an ASCII domain name), unique by 128 random bits from
    the operating system. Not ``email.utils.make_msgid``: its only random part comes from the
    process's ``random`` module, which other code may reseed (Hypothesis does, for every
    example); two emails made after the same seed in the same hundredth of a second got the
    same Message-ID. As short as make_msgid's, so that ``Message-ID: <...>`` with a common
    domain stays on one 78-character line (compat32 would fold a longer one before it)."""
    return f"<{secrets.token_hex(16)}@{domain}>"
