"""``/activity/``: every activity type Postroom keeps, which is emails, under Close's rules
for this list (see ``emails.ordering``):

- ``user_id``, ``user_id__in``, ``contact_id``, ``contact_id__in``, ``_type`` and ``_type__in``
  filter the activities of a single lead only (exactly one ``lead_id``); with none or several,
  each of them sent is a 400.
- ``thread_emails`` (EmailThread objects instead of, or beside, the emails) is not served:
  ``true`` and ``only`` are 400s (``emails.filters.ActivityListQuery``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.emails import service as email_service
from postroom.emails.filters import ActivityListQuery, EmailListQuery
from postroom.emails.ordering import check_sorted_field_filters
from postroom.emails.repository import EmailFilter
from postroom.emails.service import EmailPage
from postroom.errors import ValidationFailed
from postroom.users.auth import Caller

SINGLE_LEAD_FILTERS = (
    "user_id",
    "user_id__in",
    "contact_id",
    "contact_id__in",
    "_type",
    "_type__in",
)
"""Close: "can only be used for listing activities on a single lead"."""


async def list_activities(
    session: AsyncSession, caller: Caller, query: ActivityListQuery, skip: int, limit: int
) -> EmailPage:
    """Emails, unless ``_type`` asks for other types only; the filters are checked either way."""
    where = query.to_filter(caller.tz)
    check_sorted_field_filters(where)
    check_single_lead(query, where)
    return await email_service.list_emails(session, caller, where, skip, limit)


def check_single_lead(query: EmailListQuery, where: EmailFilter) -> None:
    if len(where.lead_ids or []) == 1:
        return
    message = "Can only be used when listing the activities of a single lead (one lead_id)."
    problems = dict.fromkeys(query.sent(SINGLE_LEAD_FILTERS), message)
    if problems:
        raise ValidationFailed(field_errors=problems)
