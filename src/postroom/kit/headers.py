"""Text that ends up in a mail header: one line, no control characters."""

from __future__ import annotations

import re

BREAKING = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
"""Every character that ends a line somewhere (CR, LF, VT, FF, FS/GS/RS, NEL, LS, PS) or is
a control character; a horizontal tab is allowed."""


_MIME_NAME = r"[A-Za-z0-9!#$&^_.+-]+"
MEDIA_TYPE = re.compile(rf"^{_MIME_NAME}/{_MIME_NAME}(\s*;[^;]+)*$")
"""``type/subtype`` (RFC 6838's restricted names), then any parameters."""


def breaks_header(text: str) -> bool:
    return BREAKING.search(text) is not None


def is_media_type(text: str) -> bool:
    """``text`` is a media type such as ``application/pdf`` (parameters allowed) on one line."""
    return not breaks_header(text) and MEDIA_TYPE.fullmatch(text.strip()) is not None


def is_content_id(text: str) -> bool:
    """``text`` can be a part's ``Content-ID`` as it is: one token of visible ASCII, in angle
    brackets or not, which HTML names as ``cid:`` followed by it (without the brackets)."""
    core = text.strip().removeprefix("<").removesuffix(">")
    return bool(core) and core.isascii() and core.isprintable() and not set(core) & set(" <>")


def one_line(text: str) -> str:
    """``text`` with every line break or control character replaced by a space."""
    if text.isprintable():  # the common case, without the regular expression
        return text.strip()
    return BREAKING.sub(" ", text).strip()


def as_message_id(text: str) -> str:
    """``text`` as a Message-ID is written (RFC 5322 §3.6.4, ``msg-id``): one token in angle
    brackets, which are added where missing (``abc@host`` is ``<abc@host>``). A ValueError
    when nothing is left, or it holds a space, a control character or another bracket."""
    core = text.strip().removeprefix("<").removesuffix(">")
    if not core or not core.isprintable() or any(char in core for char in " <>"):
        raise ValueError(f"Not a Message-ID: {text!r}.")
    return f"<{core}>"
