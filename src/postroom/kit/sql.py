"""Small SQL helpers that every repository may use."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result


def affected_rows(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched."""
    return int(cast(CursorResult[Any], result).rowcount)
