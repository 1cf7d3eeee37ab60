"""Close-style object ids: a type prefix and a random url-safe alphanumeric tail."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
_TAIL_LENGTH = 43
_RANDOM_BYTES = 32
"""256 random bits: 43 base-62 digits hold them (62**43 > 2**256)."""


def new_id(prefix: str) -> str:
    """Return a fresh id such as ``acti_3fT...``; ``prefix`` is given without the underscore.

    One read of the system's random source per id, written in base 62."""
    number = int.from_bytes(secrets.token_bytes(_RANDOM_BYTES))
    digits = []
    for _ in range(_TAIL_LENGTH):
        number, digit = divmod(number, len(_ALPHABET))
        digits.append(_ALPHABET[digit])
    return f"{prefix}_{''.join(digits)}"
