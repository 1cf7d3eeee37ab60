"""Events about emails and their threads, written in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.emails import repository
from postroom.emails.rendering import render_email, user_ids_of, user_ids_of_all
from postroom.events.service import Change, Origin, record, record_many
from postroom.models import EmailActivity, EmailThread
from postroom.threads import repository as thread_repository
from postroom.threads.schemas import ThreadView, render_thread

if TYPE_CHECKING:
    from postroom.threads.service import Placement

EMAIL = "activity.email"
THREAD = "activity.email_thread"


async def rendered(session: AsyncSession, email: EmailActivity) -> dict[str, Any]:
    """The email as the API shows it (with user names)."""
    return render_email(email, await repository.user_names(session, user_ids_of(email)))


async def email_changed(
    session: AsyncSession,
    origin: Origin,
    email: EmailActivity,
    action: str,
    previous: dict[str, Any] | None = None,
) -> None:
    await record(session, origin, await _email_change(session, email, action, previous))


async def email_created(
    session: AsyncSession, origin: Origin, email: EmailActivity, placement: Placement
) -> None:
    """A new email's ``created`` event and its thread's event, written together."""
    changes = [
        await _email_change(session, email, "created"),
        await _placement_change(session, origin, email, placement),
    ]
    await record_many(session, [(origin, change) for change in changes])


async def _email_change(
    session: AsyncSession,
    email: EmailActivity,
    action: str,
    previous: dict[str, Any] | None = None,
) -> Change:
    data = await rendered(session, email)
    return Change(EMAIL, action, email.id, email.lead_id, data, previous)


async def email_deletions(session: AsyncSession, emails: Sequence[EmailActivity]) -> list[Change]:
    """The ``deleted`` changes of emails about to go, their data as it is now (render them
    before the rows are deleted). The names of all of their users are read at once."""
    await repository.user_names(session, user_ids_of_all(emails))
    return [await _email_change(session, email, "deleted") for email in emails]


async def thread_change(
    session: AsyncSession, origin: Origin, thread_id: str | None, action: str
) -> Change | None:
    """The change of the thread ``thread_id`` as it is now (None when there is no thread)."""
    if thread_id is None:
        return None
    thread = await thread_repository.get_thread(session, origin.organization_id, thread_id)
    if thread is None:
        return None
    return await _thread_change(session, origin, thread, action, None)


async def _placement_change(
    session: AsyncSession, origin: Origin, email: EmailActivity, placement: Placement
) -> Change:
    """A new email's thread: ``created`` with just this email, or ``updated``. The thread is
    at hand: reading it back by id would be a query, since the session holds its objects
    only while something else does."""
    if placement.started:
        return await _thread_change(session, origin, placement.thread, "created", [email])
    return await _thread_change(session, origin, placement.thread, "updated", None)


async def _thread_change(
    session: AsyncSession,
    origin: Origin,
    thread: EmailThread,
    action: str,
    emails: Sequence[EmailActivity] | None,
) -> Change:
    """``emails``: all of the thread's emails when the caller has them (a thread just started
    by one email); else they are read."""
    if emails is None:
        emails = await thread_repository.emails_of_threads(
            session, origin.organization_id, [thread.id]
        )
    names: dict[str, str] = {}
    for email in emails:
        names |= await repository.user_names(session, user_ids_of(email))
    data = render_thread(ThreadView(thread, emails), names)
    return Change(THREAD, action, thread.id, thread.lead_id, data)


def thread_deletion(thread_id: str, lead_id: str | None) -> Change:
    data = {"id": thread_id, "_type": "EmailThread", "lead_id": lead_id}
    return Change(THREAD, "deleted", thread_id, lead_id, data)
