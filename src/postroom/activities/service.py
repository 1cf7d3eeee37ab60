"""``/activity/``: every activity type Postroom keeps, which is emails, under Close's rules
for this list (see ``emails.ordering``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.emails import service as email_service
from postroom.emails.filters import EmailListQuery
from postroom.emails.ordering import check_sorted_field_filters
from postroom.emails.service import EmailPage
from postroom.users.auth import Caller


async def list_activities(
    session: AsyncSession, caller: Caller, query: EmailListQuery, skip: int, limit: int
) -> EmailPage:
    """Emails, unless ``_type`` asks for other types only; the filters are checked either way."""
    where = query.to_filter(caller.tz)
    check_sorted_field_filters(where)
    if not query.includes_emails():
        return EmailPage([], {})
    return await email_service.list_emails(session, caller, where, skip, limit)
