"""JSON for responses and JSON columns, encoded by pydantic-core (Rust) instead of the stdlib.

A page of 100 emails is about 300 KB of JSON and every email row holds nine JSON columns: the
stdlib spent about a third of a list request encoding and decoding them. The output is the
same JSON (compact, UTF-8, not ASCII-escaped). What pydantic-core refuses (a lone surrogate,
which requests cannot bring in) goes through the stdlib, ASCII-escaped; NaN and infinities,
which JSON cannot carry, become null.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import PydanticSerializationError, from_json, to_json


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON bytes."""
    try:
        return to_json(value, inf_nan_mode="null")
    except PydanticSerializationError:
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def dumps_text(value: Any) -> str:
    """Compact JSON text, for JSON columns."""
    return dumps(value).decode("utf-8")


def loads(text: str | bytes) -> Any:
    """Parse JSON text (JSON columns), big integers kept exact."""
    return from_json(text)
