"""Text that ends up in a mail header: one line, no control characters."""

from __future__ import annotations

import re

BREAKING = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
"""Every character that ends a line somewhere (CR, LF, VT, FF, FS/GS/RS, NEL, LS, PS) or is
a control character; a horizontal tab is allowed."""


def breaks_header(text: str) -> bool:
    return BREAKING.search(text) is not None


def one_line(text: str) -> str:
    """``text`` with every line break or control character replaced by a space."""
    if text.isprintable():  # the common case, without the regular expression
        return text.strip()
    return BREAKING.sub(" ", text).strip()
