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
    """A new email's ``created`` event, its thread's event and those of the emails it
    replies to, written together."""
    changes = [
        await _email_change(session, email, "created"),
        await placement_change(session, email, placement),
        *placement.replied,
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
            await rendered_thread(session, thread),
            before[thread.id],
        )  # fmt: skip
        for thread in threads
    ]


async def rendered_threads(
    session: AsyncSession, origin: Origin, threads: Sequence[EmailThread]
) -> dict[str, dict[str, Any]]:
    """The threads as the API shows them (with their emails), by id."""
    return {thread.id: await rendered_thread(session, thread) for thread in threads}


async def thread_before(
    session: AsyncSession, organization_id: str, thread_id: str | None
) -> dict[str, Any] | None:
    """The thread ``thread_id`` as the API shows it now (None when there is none): what its
    next event's ``previous_data`` comes from."""
    if thread_id is None:
        return None
    thread = await thread_repository.get_thread(session, organization_id, thread_id)
    return None if thread is None else await rendered_thread(session, thread)


async def thread_updated(
    session: AsyncSession, organization_id: str, before: dict[str, Any]
) -> Change | None:
    """The ``updated`` change of the thread ``before`` showed, as it is now (None when it is
    gone)."""
    thread = await thread_repository.get_thread(session, organization_id, before["id"])
    if thread is None:
        return None
    return Change(
        THREAD, "updated", thread.id, thread.lead_id, await rendered_thread(session, thread), before
    )


async def placement_change(
    session: AsyncSession, email: EmailActivity, placement: Placement
) -> Change:
    """A new email's thread: ``created`` with just this email, or ``updated`` from the thread
    as it was before the email joined. The thread is at hand: reading it back by id would be
    a query, since the session holds its objects only while something else does."""
    thread = placement.thread
    if placement.before is None:
        data = await rendered_thread(session, thread, [email])
        return Change(THREAD, "created", thread.id, thread.lead_id, data)
    data = await rendered_thread(session, thread)
    return Change(THREAD, "updated", thread.id, thread.lead_id, data, placement.before)


async def rendered_thread(
    session: AsyncSession, thread: EmailThread, emails: Sequence[EmailActivity] | None = None
) -> dict[str, Any]:
    """The thread as the API shows it. ``emails``: all of the thread's emails when the caller
    has them (a thread just started by one email); else they are read."""
    if emails is None:
        emails = await thread_repository.emails_of_threads(
            session, thread.organization_id, [thread.id]
        )
    names: dict[str, str] = {}
    for email in emails:
        names |= await repository.user_names(session, user_ids_of(email))
    return render_thread(ThreadView(thread, emails), names)


def thread_deletion(data: dict[str, Any]) -> Change:
    """The ``deleted`` change of a thread; ``data``: the thread as ``rendered_thread`` showed
    it before it went (Close: ``previous_data`` holds the object, ``data`` is null)."""
    return Change(THREAD, "deleted", data["id"], data["lead_id"], data)
