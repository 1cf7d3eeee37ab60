"""Threading rules: which conversation an email belongs to, replies, and thread deletion.

- An outgoing email with ``in_reply_to_id`` joins that email's thread and carries its
  References chain (the parent's references plus the parent's Message-ID); without it, it
  starts a thread.
- An incoming email joins the thread of an email of its own lead named by its threading data
  (``in_reply_to_id``; ``envelope.in_reply_to`` / ``envelope.references``; ``references``;
  nearest first); else a thread of the same lead whose normalized subject matches and that
  was active in the last 30 days; else a new thread. Its arrival gives a reply to every sent
  email of that thread sent before it (``has_reply``); deleting the last reply to an email
  takes it back.
- A thread's ``contact_id`` is the contact of the email that started it (its first), also
  when a ``PUT`` gives that draft another contact.
- Incoming emails of one lead are threaded one at a time (``hold_for_threading``): two
  arriving at once of one new conversation share its thread, as one after the other do.
- A thread holds the emails of one lead only: a Message-ID of another lead's email is
  ignored, so deleting a lead or a thread never reaches another lead's emails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.emails import event_log
from postroom.emails.states import EmailStatus
from postroom.errors import NotFound, ValidationFailed
from postroom.events.service import Change, Origin, record_many
from postroom.kit.filters import check_own_organization
from postroom.kit.headers import as_message_id
from postroom.kit.ids import new_id
from postroom.leads import repository as lead_repository
from postroom.models import EmailActivity, EmailThread
from postroom.tasks import repository as task_repository
from postroom.tasks.service import task_deletions
from postroom.threads import repository
from postroom.threads.repository import ThreadFilter
from postroom.threads.schemas import ThreadView
from postroom.threads.subjects import display_subject, subject_key
from postroom.users.auth import Caller

SUBJECT_WINDOW = timedelta(days=30)


def reference_chain(parent: EmailActivity) -> list[str]:
    chain = list(parent.references)
    if parent.message_id and parent.message_id not in chain:
        chain.append(parent.message_id)
    return chain


def threading_ids(email: EmailActivity) -> list[str]:
    """Message-IDs an incoming email says it answers or refers to, nearest first."""
    envelope: dict[str, Any] = email.envelope or {}
    found: list[str] = []
    in_reply_to = envelope.get("in_reply_to")
    if isinstance(in_reply_to, str):
        found.append(in_reply_to)
    for source in (envelope.get("references"), email.references):
        if isinstance(source, str):
            source = source.split()
        if isinstance(source, list):
            found.extend(str(item) for item in reversed(source))
    return list(dict.fromkeys(_message_ids(found)))


def _message_ids(found: list[str]) -> list[str]:
    """Each item as a Message-ID is stored (``<id@host>``); what is none is skipped."""
    ids = []
    for item in found:
        try:
            ids.append(as_message_id(item))
        except ValueError:
            continue
    return ids


@dataclass(frozen=True)
class Placement:
    """The thread an email was placed in, the thread as the API showed it before the email
    joined (None when the email started it), and the ``updated`` changes of the emails it
    replies to (their ``has_reply``)."""

    thread: EmailThread
    before: dict[str, Any] | None
    replied: list[Change]


async def place(
    session: AsyncSession, email: EmailActivity, parent: EmailActivity | None, now: datetime
) -> Placement:
    """Give a new email its thread (and its References chain when it replies)."""
    thread = await _thread_to_join(session, email, parent, now)
    before = None if thread is None else await event_log.rendered_thread(session, thread)
    if thread is None:
        thread = _new_thread(email, now)
        repository.add(session, thread)
    email.thread_id = thread.id
    thread.latest_normalized_subject = display_subject(email.subject)
    thread.updated_at = now
    replied: list[Change] = []
    if email.status == EmailStatus.INBOX and email.activity_at is not None:
        replied = await _mark_replied(session, thread.id, email.lead_id, email.activity_at, now)
    return Placement(thread, before, replied)


async def _mark_replied(
    session: AsyncSession, thread_id: str, lead_id: str, reply_at: datetime, now: datetime
) -> list[Change]:
    """Give a reply to the thread's sent emails it answers, and return their ``updated``
    changes (``has_reply`` and ``date_updated``; ``updated_by`` stays: no user edited them)."""
    emails = await repository.awaiting_reply(session, thread_id, lead_id, reply_at)
    return await _set_has_reply(session, emails, True, now)


async def reply_left(session: AsyncSession, thread_id: str, now: datetime) -> list[Change]:
    """Take ``has_reply`` back from the thread's sent emails no reply answers any more (an
    incoming email of it was just deleted), and return their ``updated`` changes."""
    emails = await repository.replied_without_reply(session, thread_id)
    return await _set_has_reply(session, emails, False, now)


async def _set_has_reply(
    session: AsyncSession, emails: Sequence[EmailActivity], has_reply: bool, now: datetime
) -> list[Change]:
    """Set the emails' ``has_reply`` (and ``date_updated``); their ``updated`` changes."""
    if not emails:
        return []
    before = await event_log.rendered_emails(session, emails)
    for email in emails:
        email.has_reply, email.updated_at = has_reply, now
    await session.flush()
    return await event_log.email_updates(session, emails, before)


async def _thread_to_join(
    session: AsyncSession, email: EmailActivity, parent: EmailActivity | None, now: datetime
) -> EmailThread | None:
    if email.status == EmailStatus.INBOX:
        await lead_repository.hold_for_threading(session, email.lead_id)
    if parent is not None:
        email.references = reference_chain(parent)
        thread = await _own_thread(session, email, parent.thread_id)
        if thread is None and not await repository.email_exists(session, parent.id):
            raise ValidationFailed.field("in_reply_to_id", "Email not found on this lead.")
        return thread
    if email.status != EmailStatus.INBOX:
        return None
    thread = await _thread_by_headers(session, email)
    if thread is not None:
        return thread
    key = subject_key(email.subject)
    if not key:
        return None
    return await repository.recent_thread_by_subject(
        session, email.lead_id, key, now - SUBJECT_WINDOW
    )


async def _thread_by_headers(session: AsyncSession, email: EmailActivity) -> EmailThread | None:
    """The thread of the lead's email named nearest in the threading headers, if any."""
    message_ids = threading_ids(email)
    found = await repository.threads_by_message_id(
        session, email.organization_id, email.lead_id, message_ids
    )
    nearest = next((found[item] for item in message_ids if item in found), None)
    return await _own_thread(session, email, nearest)


async def _own_thread(
    session: AsyncSession, email: EmailActivity, thread_id: str | None
) -> EmailThread | None:
    """The thread if it belongs to the email's lead (a thread never holds two leads' emails),
    locked for the email about to join it: a deletion of the thread under way is waited for,
    and then there is none (the email it was found by went with it)."""
    if thread_id is None:
        return None
    thread = await repository.get_thread(session, email.organization_id, thread_id, locked=True)
    return thread if thread is not None and thread.lead_id == email.lead_id else None


def _new_thread(email: EmailActivity, now: datetime) -> EmailThread:
    return EmailThread(
        id=new_id("acti"),
        organization_id=email.organization_id,
        lead_id=email.lead_id,
        contact_id=email.contact_id,
        normalized_subject=subject_key(email.subject),
        latest_normalized_subject=display_subject(email.subject),
        created_at=now,
        updated_at=now,
    )


async def move(
    session: AsyncSession,
    email: EmailActivity,
    parent: EmailActivity | None,
    now: datetime,
    old: dict[str, Any] | None,
) -> list[Change]:
    """Move a draft to the thread its new ``in_reply_to_id`` calls for, and return the events
    of the threads that changed: the one it left (``old``: as it was shown with the email),
    ``deleted`` when emptied, else ``updated``; and the one it joined, ``created`` or
    ``updated``. Staying in its thread changes no thread."""
    email.references = []
    placement = await place(session, email, parent, now)
    await session.flush()
    if old is None or old["id"] == placement.thread.id:
        return []
    joined = await event_log.placement_change(session, email, placement)
    left = await email_left(session, email.organization_id, old, now)
    return [*([left] if left is not None else []), joined]


async def follow_contact(
    session: AsyncSession, email: EmailActivity, now: datetime, before: dict[str, Any] | None
) -> Change | None:
    """Give the thread the contact its starting email was just given (a thread's
    ``contact_id`` is that email's), and return the thread's ``updated`` change from
    ``before`` (the thread as it was shown); None when its contact stays."""
    thread = await repository.get_thread(session, email.organization_id, email.thread_id or "")
    if before is None or thread is None or thread.contact_id == email.contact_id:
        return None
    if await repository.starting_email_id(session, thread.id) != email.id:
        return None
    thread.contact_id, thread.updated_at = email.contact_id, now
    await session.flush()
    return await event_log.thread_updated(session, email.organization_id, before)


async def email_left(
    session: AsyncSession, organization_id: str, before: dict[str, Any], now: datetime
) -> Change | None:
    """The change of the thread ``before`` showed once an email left it (moved or deleted):
    ``deleted`` when that was its last email, else ``updated``, the thread changed at ``now``
    (None when it is gone already). The thread is locked before its emails are counted: an
    email joining it meanwhile (which holds it) is counted, so it never loses its thread."""
    thread = await repository.get_thread(session, organization_id, before["id"], locked=True)
    if thread is None:
        return None
    if await repository.count_emails(session, thread.id) == 0:
        await repository.delete_thread(session, thread.id)
        return event_log.thread_deletion(before)
    thread.updated_at = now
    await session.flush()
    return await event_log.thread_updated(session, organization_id, before)


async def get_thread(session: AsyncSession, caller: Caller, thread_id: str) -> ThreadView:
    thread = await repository.get_thread(session, caller.organization_id, thread_id)
    if thread is None:
        raise NotFound("EmailThread")
    emails = await repository.emails_of_threads(session, caller.organization_id, [thread.id])
    return ThreadView(thread, emails)


async def list_threads(
    session: AsyncSession, caller: Caller, where: ThreadFilter, skip: int, limit: int
) -> list[ThreadView]:
    check_own_organization(where.organization_id, caller.organization_id)
    if where.matches_nothing:
        return []
    threads = await repository.list_threads(session, caller.organization_id, where, skip, limit)
    emails = await repository.emails_of_threads(
        session, caller.organization_id, [thread.id for thread in threads]
    )
    by_thread: dict[str, list[EmailActivity]] = {thread.id: [] for thread in threads}
    for email in emails:
        by_thread[email.thread_id or ""].append(email)
    return [ThreadView(thread, by_thread[thread.id]) for thread in threads]


async def delete_thread(session: AsyncSession, caller: Caller, thread_id: str) -> None:
    """Delete the thread, its emails and its follow-up tasks, and record their ``deleted``
    events (rendered before they go, written together); nothing while an email of it is being
    sent."""
    thread = await repository.get_thread(session, caller.organization_id, thread_id, locked=True)
    if thread is None:
        raise NotFound("EmailThread")
    changes = await _deletions(session, caller.organization_id, thread)
    await repository.delete_unclaimed_emails(session, thread.id)
    if await repository.count_emails(session, thread.id):
        raise ValidationFailed(["An email of this thread is being sent; try again in a moment."])
    await task_repository.delete_followups_of_thread(session, thread.id)
    await repository.delete_thread(session, thread.id)
    origin = Origin.of(caller)
    await record_many(session, [(origin, change) for change in changes])


async def _deletions(
    session: AsyncSession, organization_id: str, thread: EmailThread
) -> list[Change]:
    """The ``deleted`` changes of the thread's emails, the thread and its follow-up tasks. The
    emails are read locked first: a follow-up task being added for one (the scheduler holds
    the email) is then among the tasks read, and gets its ``deleted`` event."""
    emails = await repository.emails_of_threads(session, organization_id, [thread.id], locked=True)
    tasks = await task_repository.followups_of_thread(session, thread.id)
    return [
        *await event_log.email_deletions(session, emails),
        event_log.thread_deletion(await event_log.rendered_thread(session, thread, emails)),
        *await task_deletions(session, organization_id, tasks),
    ]
