"""Query parameters of ``GET /activity/emailthread/``, turned into a filter.

Every filter Close documents for this list is applied (docs/decisions.md, "List filters"):
``id__in``, ``lead_id``, ``contact_id`` (the thread's own, as shown), ``user_id`` (a thread
holding an email of that user), ``organization_id`` (the caller's own or blank), ``_type``
(``EmailThread``; another type Close knows finds nothing here, ``Email`` is a 400 naming
``/activity/email/``), ``date_created__*`` and ``activity_at__*`` (the thread's
``activity_at``: its latest email's).
"""

from __future__ import annotations

from datetime import timezone
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import ConfigDict, Field

from postroom.emails.filters import ACTIVITY_TYPES, CUSTOM_TYPE_PREFIX, EMAIL_TYPE, THREAD_TYPE
from postroom.errors import ValidationFailed
from postroom.kit.filters import (
    ActivityDateBounds,
    datetime_bounds,
    openapi_query_parameters,
    validated_query,
)
from postroom.kit.paging import split_csv
from postroom.threads.repository import ThreadFilter


class ThreadListQuery(ActivityDateBounds):
    """Filters; list-valued ones are comma-separated. Naive datetimes follow ``X-TZ-Offset``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id__in: str | None = None
    lead_id: str | None = None
    contact_id: str | None = None
    user_id: str | None = None
    organization_id: str | None = None
    type_filter: str | None = Field(default=None, alias="_type")

    def to_filter(self, tz: timezone | None) -> ThreadFilter:
        types = thread_types(self.type_filter)
        return ThreadFilter(
            ids=split_csv(self.id__in),
            lead_ids=split_csv(self.lead_id),
            contact_ids=split_csv(self.contact_id),
            user_ids=split_csv(self.user_id),
            organization_id=self.organization_id,
            matches_nothing=types is not None and THREAD_TYPE not in types,
            created_bounds=datetime_bounds(self, "date_created", tz),
            activity_bounds=datetime_bounds(self, "activity_at", tz),
        )


def thread_types(raw: str | None) -> list[str] | None:
    """``_type``'s names, checked: Close's activity types (or a custom type id) but ``Email``."""
    types = split_csv(raw)
    for value in types or ():
        if value == EMAIL_TYPE:
            raise ValidationFailed.field(
                "_type",
                "Email activities are listed by /activity/email/; this list holds one "
                "EmailThread object per conversation.",
            )
        if value not in ACTIVITY_TYPES and not value.startswith(CUSTOM_TYPE_PREFIX):
            raise ValidationFailed.field("_type", f"Unknown activity type: {value!r}.")
    return types


THREAD_LIST_VALUED = frozenset({"id__in", "lead_id", "contact_id", "user_id", "_type"})
"""The comma-separated filters: sent repeated, each is every value sent."""


async def thread_list_query(request: Request) -> ThreadListQuery:
    return validated_query(ThreadListQuery, request, THREAD_LIST_VALUED)


ThreadListQueryDep = Annotated[ThreadListQuery, Depends(thread_list_query)]
THREAD_QUERY_OPENAPI: dict[str, Any] = {"parameters": openapi_query_parameters(ThreadListQuery)}
"""``openapi_extra`` of ``/activity/emailthread/``."""
