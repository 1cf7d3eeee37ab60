"""Query parameters of ``GET /activity/email/`` and ``GET /activity/``, turned into a filter."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timezone
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import ConfigDict, Field, field_validator

from postroom.emails.ordering import parse_order
from postroom.emails.repository import EmailFilter
from postroom.emails.states import EmailStatus
from postroom.errors import ValidationFailed
from postroom.kit.filters import (
    ActivityDateBounds,
    datetime_bounds,
    openapi_query_parameters,
    validated_query,
)
from postroom.kit.paging import split_csv

ACTIVITY_TYPES = frozenset(
    {
        "Call", "Created", "Custom", "Email", "EmailThread", "FormSubmission", "LeadMerge",
        "LeadStatusChange", "Meeting", "Note", "OpportunityStatusChange", "SMS",
        "TaskCompleted", "WhatsAppMessage",
    }
)  # fmt: skip
"""Close's activity types (and ``Custom``, any custom activity): a filter on one Postroom never
stores finds nothing; a name outside these (or a custom type id ``actitype_…``) is a 400."""
CUSTOM_TYPE_PREFIX = "actitype_"
EMAIL_TYPE = "Email"
THREAD_TYPE = "EmailThread"


class EmailListQuery(ActivityDateBounds):
    """Filters; list-valued ones are comma-separated, and a filter sent both plain and as its
    ``__in`` twin keeps what is in both. Naive datetimes follow ``X-TZ-Offset``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    lead_id: str | None = None
    lead_id__in: str | None = None
    contact_id: str | None = None
    contact_id__in: str | None = None
    user_id: str | None = None
    user_id__in: str | None = None
    id__in: str | None = None
    organization_id: str | None = None
    status: str | None = None
    thread_id: str | None = None
    type_filter: str | None = Field(default=None, alias="_type")
    type_in: str | None = Field(default=None, alias="_type__in")
    order_by: str | None = Field(default=None, alias="_order_by", max_length=64)

    def to_filter(self, tz: timezone | None) -> EmailFilter:
        return EmailFilter(
            lead_ids=in_both(split_csv(self.lead_id), split_csv(self.lead_id__in)),
            contact_ids=in_both(split_csv(self.contact_id), split_csv(self.contact_id__in)),
            user_ids=in_both(split_csv(self.user_id), split_csv(self.user_id__in)),
            ids=split_csv(self.id__in),
            organization_id=self.organization_id,
            thread_ids=split_csv(self.thread_id),
            statuses=_statuses(self.status),
            types=in_both(
                _activity_types("_type", self.type_filter),
                _activity_types("_type__in", self.type_in),
            ),
            created_after=datetime_bounds(self, "date_created", tz),
            activity_after=datetime_bounds(self, "activity_at", tz),
            order_by=parse_order(self.order_by),
        )

    def sent(self, names: Iterable[str]) -> list[str]:
        """Which of the parameters ``names`` (spelled as in the query string) have a value."""
        values = self.model_dump(by_alias=True)
        return [name for name in names if (values.get(name) or "").strip()]


def in_both(*lists: list[str] | None) -> list[str] | None:
    """The values in every list sent (None when none was sent; possibly ``[]``)."""
    sent = [values for values in lists if values is not None]
    if not sent:
        return None
    first, *others = sent
    return [value for value in dict.fromkeys(first) if all(value in other for other in others)]


def _activity_types(name: str, raw: str | None) -> list[str] | None:
    types = split_csv(raw)
    for value in types or ():
        if value == THREAD_TYPE:
            raise ValidationFailed.field(
                name,
                "EmailThread activities are listed by /activity/emailthread/; this list holds "
                "one Email object per email message.",
            )
        if value not in ACTIVITY_TYPES and not value.startswith(CUSTOM_TYPE_PREFIX):
            raise ValidationFailed.field(name, f"Unknown activity type: {value!r}.")
    return types


def _statuses(raw: str | None) -> list[EmailStatus] | None:
    values = split_csv(raw)
    if values is None:
        return None
    try:
        return [EmailStatus(value) for value in values]
    except ValueError as error:
        raise ValidationFailed.field("status", f"Unknown status in {raw!r}.") from error


class ActivityListQuery(EmailListQuery):
    """``/activity/``'s filters: the email list's, and ``thread_emails``, which Postroom takes
    only as its default (absent, blank or ``false``: one ``Email`` object per message)."""

    thread_emails: str | None = Field(default=None, max_length=16)

    @field_validator("thread_emails")
    @classmethod
    def _emails_not_threads(cls, value: str | None) -> None:
        if value is None or value.strip() in {"", "false"}:
            return None
        if value.strip() in {"true", "only"}:
            raise ValueError(
                "Postroom's /activity/ lists Email objects only; EmailThread objects are "
                "listed by /activity/emailthread/."
            )
        raise ValueError("thread_emails is true or only (neither served here), or absent.")


LIST_VALUED = frozenset(
    {
        "lead_id", "lead_id__in", "contact_id", "contact_id__in", "user_id", "user_id__in",
        "id__in", "status", "thread_id", "_type", "_type__in",
    }
)  # fmt: skip
"""The comma-separated filters: sent repeated, each is every value sent."""


async def email_list_query(request: Request) -> EmailListQuery:
    return validated_query(EmailListQuery, request, LIST_VALUED)


async def activity_list_query(request: Request) -> ActivityListQuery:
    return validated_query(ActivityListQuery, request, LIST_VALUED)


EmailListQueryDep = Annotated[EmailListQuery, Depends(email_list_query)]
ActivityListQueryDep = Annotated[ActivityListQuery, Depends(activity_list_query)]


LIST_QUERY_OPENAPI: dict[str, Any] = {"parameters": openapi_query_parameters(EmailListQuery)}
"""``openapi_extra`` of ``/activity/email/``: the parameters FastAPI documented for a
``Query()`` model (FastAPI adds them to the route's own, ``_skip``, ``_limit`` and ``_fields``)."""
ACTIVITY_QUERY_OPENAPI: dict[str, Any] = {"parameters": openapi_query_parameters(ActivityListQuery)}
"""``openapi_extra`` of ``/activity/``."""
