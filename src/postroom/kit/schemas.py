"""The base of every request model: unknown fields ignored, no NUL character anywhere.

PostgreSQL cannot store NUL in text or JSONB, so it is refused on both engines alike, as a
field error naming the top-level field. So is a date near the ends of what Python's datetime
holds, where converting it to UTC would overflow.

Integers in request bodies are ``Integer``: a JSON integer and nothing else. Pydantic's lax
mode would take ``true`` as 1, ``2.0`` as 2 and ``"2"`` as 2 where Close documents an integer.
Booleans in request bodies are ``Boolean``: ``true`` or ``false``, where lax mode would also take
``"yes"``, ``"off"``, ``1`` or ``"0"``. (Query strings stay lax: ``?is_complete=true`` is text.)
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Strict, field_validator

Integer = Annotated[int, Strict()]
Boolean = Annotated[bool, Strict()]


def contains_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(contains_nul(item) for item in value)
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    return False


EARLIEST = date(1, 1, 2)
LATEST = date(9999, 12, 30)
"""The dates a request may carry: a day inside what Python's datetime holds, so that no UTC
offset (``X-TZ-Offset`` or the value's own, under 24 h) takes it past year 1 or 9999."""


def within_storable_range(value: object) -> bool:
    if isinstance(value, datetime):
        value = value.date()  # the wall-clock day, before any offset
    if isinstance(value, date):
        return EARLIEST <= value <= LATEST
    return True


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul_character(cls, value: object) -> object:
        if contains_nul(value):
            raise ValueError("Text may not contain NUL characters.")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _storable_date(cls, value: object) -> object:
        if not within_storable_range(value):
            raise ValueError(f"Dates must lie between {EARLIEST} and {LATEST}.")
        return value
