"""Close-style object ids: a type prefix and a random url-safe alphanumeric tail."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
_TAIL_LENGTH = 43


def new_id(prefix: str) -> str:
    """Return a fresh id such as ``acti_3fT...``; ``prefix`` is given without the underscore."""
    tail = "".join(secrets.choice(_ALPHABET) for _ in range(_TAIL_LENGTH))
    return f"{prefix}_{tail}"
