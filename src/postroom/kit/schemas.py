"""The base of every request model: unknown fields ignored, no NUL character anywhere.

PostgreSQL cannot store NUL in text or JSONB, so it is refused on both engines alike, as a
field error naming the top-level field. So is a lone UTF-16 surrogate (``"\\ud800"`` in JSON):
the body's JSON parser (the stdlib's, FastAPI's) reads it into the string, it is no Unicode
character, and no database driver can encode it (a 500 on write) where a length limit on the
field did not refuse it first. So is a date near the ends of what Python's datetime
holds, where converting it to UTC would overflow.

Integers in request bodies are ``Integer``: a JSON integer and nothing else. Pydantic's lax
mode would take ``true`` as 1, ``2.0`` as 2 and ``"2"`` as 2 where Close documents an integer.
Booleans in request bodies are ``Boolean``: ``true`` or ``false``, where lax mode would also take
``"yes"``, ``"off"``, ``1`` or ``"0"``. (Query strings stay lax: ``?is_complete=true`` is text.)
Dates and datetimes are text (ISO 8601, or a plain date): lax mode would read a number, or a
string of digits, as seconds since 1970, so ``{"date": 12345}`` set a task's date to 1970.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from typing import Annotated, Any, get_args

from pydantic import BaseModel, ConfigDict, Strict, ValidationInfo, field_validator

Integer = Annotated[int, Strict()]
Boolean = Annotated[bool, Strict()]


def contains_text(value: object, test: Callable[[str], bool]) -> bool:
    """Whether ``test`` holds for a string of ``value``: itself, or in its lists and dicts."""
    if isinstance(value, str):
        return test(value)
    if isinstance(value, list | tuple):
        return any(contains_text(item, test) for item in value)
    if isinstance(value, dict):
        return any(
            contains_text(key, test) or contains_text(item, test) for key, item in value.items()
        )
    return False


def has_nul(text: str) -> bool:
    return "\x00" in text


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def has_lone_surrogate(text: str) -> bool:
    """A code point of the surrogate range: JSON's ``"\\ud83d\\ude00"`` (a pair) is read as
    one character, so one left in a Python string stands alone."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def contains_nul(value: object) -> bool:
    return contains_text(value, has_nul)


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


def is_timestamp_like(value: object) -> bool:
    """A number, or a string of digits: what lax mode would read as seconds since 1970."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit()


def takes_a_date(annotation: Any) -> bool:
    """Whether a field of this type holds a date or datetime (alone, optional or annotated)."""
    if annotation in (date, datetime):
        return True
    return any(takes_a_date(argument) for argument in get_args(annotation))


@cache
def _date_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(
        name for name, field in model.model_fields.items() if takes_a_date(field.annotation)
    )


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul_character(cls, value: object, info: ValidationInfo) -> object:
        if contains_nul(value):
            raise ValueError("Text may not contain NUL characters.")
        if contains_text(value, has_lone_surrogate):
            raise ValueError("Text may not contain a lone surrogate (\\ud800 to \\udfff).")
        if is_timestamp_like(value) and info.field_name in _date_fields(cls):
            raise ValueError("A date is text: ISO 8601 (2026-11-26T14:03:07+00:00) or YYYY-MM-DD.")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _storable_date(cls, value: object) -> object:
        if not within_storable_range(value):
            raise ValueError(f"Dates must lie between {EARLIEST} and {LATEST}.")
        return value
