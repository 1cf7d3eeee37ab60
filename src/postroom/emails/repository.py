"""Every SQL statement about email activities.

Cancels and deletes of queued emails are conditional statements: they only touch a row the
dispatcher has not claimed (``claimed_by IS NULL``), so whichever of cancel and claim commits
first wins and the other sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.emails.states import QUEUED, EmailStatus
from postroom.kit.sql import affected_rows
from postroom.models import EmailActivity, User
from postroom.users import repository as user_repository


@dataclass
class EmailFilter:
    """Conditions of ``GET /activity/email/``, all optional, combined with AND."""

    lead_ids: list[str] | None = None
    contact_ids: list[str] | None = None
    user_ids: list[str] | None = None
    ids: list[str] | None = None
    statuses: list[EmailStatus] | None = None
    thread_ids: list[str] | None = None
    created_after: dict[str, datetime] = field(default_factory=dict)
    activity_after: dict[str, datetime] = field(default_factory=dict)


_COMPARATORS = {
    "gt": lambda column, value: column > value,
    "gte": lambda column, value: column >= value,
    "lt": lambda column, value: column < value,
    "lte": lambda column, value: column <= value,
}


def _conditions(organization_id: str, where: EmailFilter) -> list[ColumnElement[bool]]:
    model = EmailActivity
    conditions: list[ColumnElement[bool]] = [model.organization_id == organization_id]
    for column, values in (
        (model.lead_id, where.lead_ids),
        (model.contact_id, where.contact_ids),
        (model.user_id, where.user_ids),
        (model.id, where.ids),
        (model.thread_id, where.thread_ids),
        (model.status, where.statuses),
    ):
        if values:
            conditions.append(column.in_(values))
    for date_column, bounds in (
        (model.created_at, where.created_after),
        (model.activity_at, where.activity_after),
    ):
        for operator, value in bounds.items():
            conditions.append(_COMPARATORS[operator](date_column, value))
    return conditions


async def list_emails(
    session: AsyncSession, organization_id: str, where: EmailFilter, skip: int, limit: int
) -> Sequence[Row[Any]]:
    """A page of emails as plain rows of their table, run as Core on the session's connection
    (read-only: no ORM objects to build, which was a third of a list request). Rows have the
    model's attribute names."""
    statement = (
        select(EmailActivity.__table__)
        .where(*_conditions(organization_id, where))
        .order_by(EmailActivity.created_at.desc(), EmailActivity.id.desc())
        .offset(skip)
        .limit(limit)
    )
    connection = await session.connection()
    return (await connection.execute(statement)).all()


EMAIL_BY_ID = select(EmailActivity).where(
    EmailActivity.id == bindparam("email_id"),
    EmailActivity.organization_id == bindparam("organization_id"),
)
"""Built once (most requests read one email by id): building costs more than running it."""


async def get_email(
    session: AsyncSession, organization_id: str, email_id: str
) -> EmailActivity | None:
    parameters = {"email_id": email_id, "organization_id": organization_id}
    return (await session.execute(EMAIL_BY_ID, parameters)).scalar_one_or_none()


async def email_by_message_id(
    session: AsyncSession, organization_id: str, message_ids: Sequence[str]
) -> EmailActivity | None:
    """The email of the organization whose Message-ID is one of ``message_ids``."""
    if not message_ids:
        return None
    statement = (
        select(EmailActivity)
        .where(
            EmailActivity.organization_id == organization_id,
            EmailActivity.message_id.in_(list(message_ids)),
        )
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def user_names(session: AsyncSession, user_ids: set[str]) -> dict[str, str]:
    """Display names of the given users (for ``user_name``, ``created_by_name`` ...).

    Remembered for the rest of the transaction: one request renders an email several times
    (its response, its event, its thread's event).
    """
    known = user_repository.known_user_names(session)
    missing = user_ids - known.keys()
    if missing:
        users = (await session.execute(select(User).where(User.id.in_(missing)))).scalars()
        known.update({user.id: user_repository.display_name(user) for user in users})
    return {user_id: known[user_id] for user_id in user_ids if user_id in known}


async def cancel_delivery(session: AsyncSession, email: EmailActivity, now: datetime) -> bool:
    """Move a queued, unclaimed email back to draft. False when the dispatcher got it first."""
    statement = (
        update(EmailActivity)
        .where(
            EmailActivity.id == email.id,
            EmailActivity.status.in_(list(QUEUED)),
            EmailActivity.claimed_by.is_(None),
        )
        .values(status=EmailStatus.DRAFT.value, due_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    cancelled = affected_rows(await session.execute(statement)) == 1
    await session.refresh(email)
    return cancelled


async def delete_unclaimed(session: AsyncSession, email: EmailActivity) -> bool:
    """Delete the email unless the dispatcher has claimed it. False when it had."""
    statement = (
        delete(EmailActivity)
        .where(EmailActivity.id == email.id, EmailActivity.claimed_by.is_(None))
        .execution_options(synchronize_session=False)
    )
    deleted = affected_rows(await session.execute(statement)) == 1
    session.expunge(email)
    return deleted


def add(session: AsyncSession, email: EmailActivity) -> None:
    session.add(email)
