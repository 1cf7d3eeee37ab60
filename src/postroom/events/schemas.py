"""Events as the API shows them, and the list filters of ``GET /event/``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timezone
from functools import partial
from typing import Any

from pydantic import BaseModel, Field, field_validator

from postroom.events.repository import EventFilter
from postroom.kit.datetimes import format_datetime
from postroom.kit.filters import datetime_bounds, refuse_if_given
from postroom.kit.schemas import RequestModel
from postroom.models import Event

MAX_EVENT_LIMIT = 50


class EventOut(BaseModel):
    id: str
    organization_id: str
    user_id: str | None
    request_id: str | None
    api_key_id: str | None
    object_type: str
    object_id: str
    lead_id: str | None
    action: str
    changed_fields: list[str]
    data: dict[str, Any] | None
    previous_data: dict[str, Any] | None
    meta: dict[str, Any]
    date_created: str
    date_updated: str


class EventList(BaseModel):
    data: list[EventOut]
    cursor_next: str | None
    cursor_previous: str | None


class EventListQuery(RequestModel):
    """Close's filters, each one exact value (``user_id`` and ``request_id`` are what every
    event records of the API request that caused it; Postroom's own changes have neither).
    Naive datetimes follow ``X-TZ-Offset``."""

    object_type: str | None = Field(default=None, max_length=64)
    object_id: str | None = Field(default=None, max_length=64)
    action: str | None = Field(default=None, max_length=32)
    lead_id: str | None = Field(default=None, max_length=64)
    user_id: str | None = Field(default=None, max_length=64)
    request_id: str | None = Field(default=None, max_length=64)
    date_updated__gt: str | None = None
    date_updated__gte: str | None = None
    date_updated__lt: str | None = None
    date_updated__lte: str | None = None
    cursor: str | None = Field(default=None, alias="_cursor", max_length=500)
    limit: int = Field(
        default=MAX_EVENT_LIMIT,
        alias="_limit",
        ge=1,
        description=f"At most {MAX_EVENT_LIMIT}: a larger value gives {MAX_EVENT_LIMIT} events.",
    )
    skip: str | None = Field(
        default=None,
        alias="_skip",
        description="Not supported (as in Close): page with _cursor. Any value is a 400.",
    )

    @field_validator("limit")
    @classmethod
    def _capped(cls, value: int) -> int:
        """Close caps the event log's pages at 50 ("capped at and defaulting to 50"): a client
        asking for 100, as it does of every other list, gets 50 and a cursor, not a 400."""
        return min(value, MAX_EVENT_LIMIT)

    @field_validator("skip")
    @classmethod
    def _cursor_paging_only(cls, value: str | None) -> None:
        """Close's event log "does not support ``_skip``": ignoring it would hand a client
        that pages with ``_skip += len(data)`` the first page forever."""
        refuse_if_given(
            value,
            "The event log pages with cursors, not _skip: send _cursor with the "
            "cursor_next of the previous page.",
        )

    def to_filter(self, tz: timezone | None) -> EventFilter:
        return EventFilter(
            object_type=self.object_type,
            object_id=self.object_id,
            action=self.action,
            lead_id=self.lead_id,
            user_id=self.user_id,
            request_id=self.request_id,
            updated_bounds=datetime_bounds(self, "date_updated", tz),
        )


def render_event(event: Event | Mapping[str, Any]) -> dict[str, Any]:
    """The event as the API and webhooks show it, from its ORM object or its row (a dict of
    its columns, as ``events.service`` writes it)."""
    get = event.__getitem__ if isinstance(event, Mapping) else partial(getattr, event)
    return {
        "id": get("id"),
        "organization_id": get("organization_id"),
        "user_id": get("user_id"),
        "request_id": get("request_id"),
        "api_key_id": get("api_key_id"),
        "object_type": get("object_type"),
        "object_id": get("object_id"),
        "lead_id": get("lead_id"),
        "action": get("action"),
        "changed_fields": list(get("changed_fields")),
        "data": get("data"),
        "previous_data": get("previous_data"),
        "meta": get("meta"),
        "date_created": format_datetime(get("created_at")),
        "date_updated": format_datetime(get("updated_at")),
    }
