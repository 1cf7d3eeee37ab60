"""Close-style object ids: a type prefix and a url-safe alphanumeric tail.

The tail starts with the creation time (milliseconds, 8 base-62 digits in ASCII order) and ends
with 208 random bits (35 digits). Ids made later sort later, so a new row's primary key lands at
the end of its index instead of on a random page: on a store of millions of rows, random keys
made every insert read and rewrite pages all over each index.
"""

from __future__ import annotations

import secrets
import string
import time

_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
"""Base 62 in ASCII order, so that the text order of ids is their numeric order."""
_TIME_DIGITS = 8
"""62**8 milliseconds is about 6,900 years."""
_RANDOM_DIGITS = 35
_RANDOM_BYTES = 26
"""208 random bits: 35 base-62 digits hold them (62**35 > 2**208)."""


def new_id(prefix: str) -> str:
    """Return a fresh id such as ``acti_0Xk3...``; ``prefix`` is given without the underscore."""
    moment = _base62(time.time_ns() // 1_000_000, _TIME_DIGITS)
    noise = _base62(int.from_bytes(secrets.token_bytes(_RANDOM_BYTES)), _RANDOM_DIGITS)
    return f"{prefix}_{moment}{noise}"


_PAIRS = [high + low for high in _ALPHABET for low in _ALPHABET]
"""Every two-digit string, by value: half the divisions of a big number (every event and
email gets an id; digit by digit, an id cost 5 us)."""


def _base62(number: int, digits: int) -> str:
    """``number`` in ``digits`` base-62 digits, most significant first."""
    out = []
    for _ in range(digits // 2):
        number, pair = divmod(number, len(_PAIRS))
        out.append(_PAIRS[pair])
    if digits % 2:
        out.append(_ALPHABET[number])
    return "".join(reversed(out))
