"""Every SQL statement about email threads and the emails in them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from postroom.emails.states import EmailStatus
from postroom.kit.sql import for_change, within_bounds
from postroom.models import EmailActivity, EmailThread


@dataclass
class ThreadFilter:
    """What a thread list asks for; ``None`` is "not filtered"."""

    ids: list[str] | None = None
    lead_ids: list[str] | None = None
    contact_ids: list[str] | None = None
    user_ids: list[str] | None = None
    organization_id: str | None = None
    matches_nothing: bool = False
    created_bounds: dict[str, datetime] = field(default_factory=dict)
    activity_bounds: dict[str, datetime] = field(default_factory=dict)


async def get_thread(
    session: AsyncSession, organization_id: str, thread_id: str, locked: bool = False
) -> EmailThread | None:
    """The thread (no query when already loaded); ``locked``: for a change, always read
    (``kit.sql.for_change``)."""
    if locked:
        thread = await session.get(
            EmailThread, thread_id, with_for_update=True, populate_existing=True
        )
    else:
        thread = await session.get(EmailThread, thread_id)
    return thread if thread is not None and thread.organization_id == organization_id else None


async def list_threads(
    session: AsyncSession, organization_id: str, where: ThreadFilter, skip: int, limit: int
) -> Sequence[EmailThread]:
    statement = (
        select(EmailThread)
        .where(EmailThread.organization_id == organization_id, *_conditions(where))
        .order_by(EmailThread.created_at.desc(), EmailThread.id.desc())
        .offset(skip)
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


def _conditions(where: ThreadFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for column, values in (
        (EmailThread.id, where.ids),
        (EmailThread.lead_id, where.lead_ids),
        (EmailThread.contact_id, where.contact_ids),
    ):
        if values is not None:
            conditions.append(column.in_(values))
    if where.user_ids is not None:
        conditions.append(_has_email_of(where.user_ids))
    conditions.extend(within_bounds(EmailThread.created_at, where.created_bounds))
    if where.activity_bounds:
        conditions.extend(within_bounds(_latest_activity_at(), where.activity_bounds))
    return conditions


def _has_email_of(user_ids: list[str]) -> ColumnElement[bool]:
    """The thread holds an email of one of the users (read by ``thread_id``'s index)."""
    return (
        select(EmailActivity.id)
        .where(EmailActivity.thread_id == EmailThread.id, EmailActivity.user_id.in_(user_ids))
        .exists()
    )


def _latest_activity_at() -> ColumnElement[datetime | None]:
    """The thread's ``activity_at`` as the API shows it: its latest email's."""
    return (
        select(func.max(EmailActivity.activity_at))
        .where(EmailActivity.thread_id == EmailThread.id)
        .correlate(EmailThread)
        .scalar_subquery()
    )


async def emails_of_threads(
    session: AsyncSession, organization_id: str, thread_ids: Sequence[str], locked: bool = False
) -> Sequence[EmailActivity]:
    """The emails of the given threads, oldest activity first; ``locked``: for their deletion
    (``kit.sql.for_change``: what holds one, such as the follow-up scheduler adding its task,
    is waited for)."""
    if not thread_ids:
        return []
    statement = (
        select(EmailActivity)
        .where(
            EmailActivity.organization_id == organization_id,
            EmailActivity.thread_id.in_(thread_ids),
        )
        .order_by(EmailActivity.activity_at, EmailActivity.created_at, EmailActivity.id)
    )
    return (await session.execute(for_change(statement, locked))).scalars().all()


async def recent_thread_by_subject(
    session: AsyncSession, lead_id: str, key: str, since: datetime
) -> EmailThread | None:
    """The lead's thread of this subject key active since ``since``, locked for the email
    about to join it (``kit.sql.for_change``: one being deleted is not found)."""
    statement = (
        select(EmailThread)
        .where(
            EmailThread.lead_id == lead_id,
            EmailThread.normalized_subject == key,
            EmailThread.updated_at >= since,
        )
        .order_by(EmailThread.updated_at.desc())
        .limit(1)
    )
    return (await session.execute(for_change(statement, locked=True))).scalar_one_or_none()


async def threads_by_message_id(
    session: AsyncSession, organization_id: str, lead_id: str, message_ids: Sequence[str]
) -> dict[str, str]:
    """The thread of each email of the lead whose Message-ID is one of ``message_ids``."""
    if not message_ids:
        return {}
    statement = select(EmailActivity.message_id, EmailActivity.thread_id).where(
        EmailActivity.organization_id == organization_id,
        EmailActivity.lead_id == lead_id,
        EmailActivity.message_id.in_(list(message_ids)),
        EmailActivity.thread_id.is_not(None),
    )
    rows = (await session.execute(statement)).all()
    return {message_id: thread_id for message_id, thread_id in rows if message_id and thread_id}


async def awaiting_reply(
    session: AsyncSession, thread_id: str, lead_id: str, reply_at: datetime
) -> Sequence[EmailActivity]:
    """Outgoing emails of the thread and lead sent before ``reply_at`` and not yet replied to:
    those a reply arriving at ``reply_at`` answers; locked, as they are about to be changed
    (``kit.sql.for_change``: one being deleted meanwhile is not found)."""
    statement = select(EmailActivity).where(
        EmailActivity.thread_id == thread_id,
        EmailActivity.lead_id == lead_id,
        EmailActivity.status == EmailStatus.SENT.value,
        EmailActivity.sent_at < reply_at,
        EmailActivity.has_reply.is_(False),
    )
    return (await session.execute(for_change(statement, locked=True))).scalars().all()


async def replied_without_reply(session: AsyncSession, thread_id: str) -> Sequence[EmailActivity]:
    """Sent emails of the thread marked replied that no incoming email of the thread, received
    after they were sent, answers any more (its replies were deleted); locked, as they are
    about to be changed (``kit.sql.for_change``)."""
    reply = aliased(EmailActivity)
    answered = (
        select(reply.id)
        .where(
            reply.thread_id == thread_id,
            reply.status == EmailStatus.INBOX.value,
            reply.activity_at > EmailActivity.sent_at,
        )
        .exists()
    )
    statement = select(EmailActivity).where(
        EmailActivity.thread_id == thread_id,
        EmailActivity.status == EmailStatus.SENT.value,
        EmailActivity.has_reply.is_(True),
        ~answered,
    )
    return (await session.execute(for_change(statement, locked=True))).scalars().all()


async def latest_incoming_at(session: AsyncSession, thread_id: str) -> datetime | None:
    statement = select(func.max(EmailActivity.activity_at)).where(
        EmailActivity.thread_id == thread_id,
        EmailActivity.status == EmailStatus.INBOX.value,
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def starting_email_id(session: AsyncSession, thread_id: str) -> str | None:
    """The id of the thread's first email (created first; ties by id): the one that started it."""
    statement = (
        select(EmailActivity.id)
        .where(EmailActivity.thread_id == thread_id)
        .order_by(EmailActivity.created_at, EmailActivity.id)
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def email_exists(session: AsyncSession, email_id: str) -> bool:
    """Whether the email is there now (read again, whatever the session holds)."""
    statement = select(EmailActivity.id).where(EmailActivity.id == email_id)
    return (await session.execute(statement)).first() is not None


async def count_emails(session: AsyncSession, thread_id: str) -> int:
    statement = select(func.count()).where(EmailActivity.thread_id == thread_id)
    return int((await session.execute(statement)).scalar_one())


async def delete_unclaimed_emails(session: AsyncSession, thread_id: str) -> None:
    await session.execute(
        delete(EmailActivity).where(
            EmailActivity.thread_id == thread_id, EmailActivity.claimed_by.is_(None)
        )
    )


async def delete_thread(session: AsyncSession, thread_id: str) -> None:
    await session.execute(delete(EmailThread).where(EmailThread.id == thread_id))


def add(session: AsyncSession, thread: EmailThread) -> None:
    session.add(thread)
