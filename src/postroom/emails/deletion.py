"""Deleting an email: with its follow-up tasks, and the ``deleted`` events of both and its
thread's event written together; refused while the email is being sent. Deleting a reply
takes ``has_reply`` back from the sent emails it was the last reply to."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.emails import event_log, repository
from postroom.emails.service import get_email
from postroom.emails.states import EmailStatus
from postroom.errors import ValidationFailed
from postroom.events.service import Origin, record_many
from postroom.kit.datetimes import utcnow
from postroom.tasks import repository as task_repository
from postroom.tasks.service import task_deletions
from postroom.threads import service as thread_service
from postroom.users.auth import Caller


async def delete_email(session: AsyncSession, caller: Caller, email_id: str) -> None:
    """Delete the email with its follow-up tasks and record, together, the ``deleted`` events
    of both (rendered before they go) and its thread's event; nothing while it is being sent."""
    email = await get_email(session, caller, email_id, locked=True)
    origin = Origin.of(caller)
    deleted = await event_log.email_deletions(session, [email])
    tasks = await task_repository.followups_of_email(session, email.id)
    tasks_deleted = await task_deletions(session, caller.organization_id, tasks)
    thread_before = await event_log.thread_before(session, caller.organization_id, email.thread_id)
    if not await repository.delete_unclaimed(session, email):
        raise ValidationFailed.field(
            "status", "This email is being sent and can no longer be deleted."
        )
    await task_repository.delete_followups_of_email(session, email.id)
    thread, unreplied, now = None, [], utcnow()
    if thread_before is not None:
        if email.status == EmailStatus.INBOX:
            unreplied = await thread_service.reply_left(session, thread_before["id"], now)
        thread = await thread_service.email_left(
            session, caller.organization_id, thread_before, now
        )
    changes = [*deleted, *unreplied, *([thread] if thread is not None else []), *tasks_deleted]
    await record_many(session, [(origin, change) for change in changes])
