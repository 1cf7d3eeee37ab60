"""Date-range filters as Close spells them: ``<field>__gt``, ``__gte``, ``__lt``, ``__lte``."""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import BaseModel

from postroom.errors import ValidationFailed
from postroom.kit.datetimes import localize, parse_datetime

BOUNDS = ("gt", "gte", "lt", "lte")


def datetime_bounds(query: BaseModel, prefix: str, tz: timezone | None) -> dict[str, datetime]:
    """``{"gt": …, "lte": …}`` from the attributes ``<prefix>__gt`` … of ``query``."""
    bounds: dict[str, datetime] = {}
    for operator in BOUNDS:
        name = f"{prefix}__{operator}"
        raw = getattr(query, name)
        if raw is not None:
            bounds[operator] = parse_bound(name, raw, tz)
    return bounds


def parse_bound(name: str, raw: str, tz: timezone | None) -> datetime:
    try:
        return localize(parse_datetime(raw), tz)
    except ValueError as error:
        raise ValidationFailed.field(name, f"Not a date or datetime: {raw!r}.") from error


def check_own_organization(asked: str | None, own: str) -> None:
    """A list's ``organization_id`` filter: the caller's own organization, or blank, or absent.
    Another value is a 400 (not an empty list: the client asked for something it cannot
    have); the message does not repeat it."""
    if asked is not None and asked.strip() and asked.strip() != own:
        raise ValidationFailed.field(
            "organization_id", f"Only your own organization can be listed ({own})."
        )
