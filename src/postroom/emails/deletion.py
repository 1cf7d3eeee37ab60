"""Deleting an email: with its follow-up tasks, and the ``deleted`` events of both and its
thread's event written together; refused while the email is being sent."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.emails import event_log, repository
from postroom.emails.service import get_email
from postroom.errors import ValidationFailed
from postroom.events.service import Change, Origin, record_many
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
    thread = await _thread_after_deletion(session, caller.organization_id, thread_before)
    changes = [*deleted, *([thread] if thread is not None else []), *tasks_deleted]
    await record_many(session, [(origin, change) for change in changes])


async def _thread_after_deletion(
    session: AsyncSession, organization_id: str, before: dict[str, Any] | None
) -> Change | None:
    """The change of the email's thread (``before``: as it was with the email) once the email
    is gone: ``deleted`` when it was its last email, else ``updated``."""
    if before is None:
        return None
    if await thread_service.forget_if_empty(session, before["id"]):
        return event_log.thread_deletion(before)
    await thread_service.touch(session, organization_id, before["id"])
    return await event_log.thread_updated(session, organization_id, before)
