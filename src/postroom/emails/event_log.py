"""Events about emails and their threads, written in the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


async def email_updates(
    session: AsyncSession, emails: Sequence[EmailActivity], before: Mapping[str, dict[str, Any]]
) -> list[Change]:
    """The ``updated`` changes of emails changed in place; ``before``: their data, by id, as
    ``rendered_emails`` gave it before the change."""
    return [await _email_change(session, email, "updated", before[email.id]) for email in emails]


async def rendered_emails(
    session: AsyncSession, emails: Sequence[EmailActivity]
) -> dict[str, dict[str, Any]]:
    """The emails as the API shows them, by id (the names of all of their users read at once)."""
    await repository.user_names(session, user_ids_of_all(emails))
    return {email.id: await rendered(session, email) for email in emails}


async def thread_updates(
    session: AsyncSession,
    origin: Origin,
    threads: Sequence[EmailThread],
    before: Mapping[str, dict[str, Any]],
) -> list[Change]:
    """The ``updated`` changes of threads changed in place; ``before``: their data, by id, as
    ``rendered_threads`` gave it before the change."""
    return [
        Change(
            THREAD,
            "updated",
            thread.id,
            thread.lead_id,
            await _rendered_thread(session, origin, thread, None),
            before[thread.id],
        )  # fmt: skip
        for thread in threads
    ]


async def rendered_threads(
    session: AsyncSession, origin: Origin, threads: Sequence[EmailThread]
) -> dict[str, dict[str, Any]]:
    """The threads as the API shows them (with their emails), by id."""
    return {thread.id: await _rendered_thread(session, origin, thread, None) for thread in threads}


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
    data = await _rendered_thread(session, origin, thread, emails)
    return Change(THREAD, action, thread.id, thread.lead_id, data)


async def _rendered_thread(
    session: AsyncSession,
    origin: Origin,
    thread: EmailThread,
    emails: Sequence[EmailActivity] | None,
) -> dict[str, Any]:
    """``emails``: all of the thread's emails when the caller has them (a thread just started
    by one email); else they are read."""
    if emails is None:
        emails = await thread_repository.emails_of_threads(
            session, origin.organization_id, [thread.id]
        )
    names: dict[str, str] = {}
    for email in emails:
        names |= await repository.user_names(session, user_ids_of(email))
    return render_thread(ThreadView(thread, emails), names)


def thread_deletion(thread_id: str, lead_id: str | None) -> Change:
    data = {"id": thread_id, "_type": "EmailThread", "lead_id": lead_id}
    return Change(THREAD, "deleted", thread_id, lead_id, data)
