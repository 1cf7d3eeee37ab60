"""Every SQL statement about sending accounts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.models import EmailAccount


async def get_account(
    session: AsyncSession, organization_id: str, account_id: str
) -> EmailAccount | None:
    statement = select(EmailAccount).where(
        EmailAccount.id == account_id, EmailAccount.organization_id == organization_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def default_account_id(session: AsyncSession, user_id: str) -> str | None:
    """The user's default account, else their oldest; None when they have none."""
    statement = (
        select(EmailAccount.id)
        .where(EmailAccount.user_id == user_id)
        .order_by(EmailAccount.is_default.desc(), EmailAccount.created_at, EmailAccount.id)
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def list_accounts(
    session: AsyncSession, organization_id: str, user_id: str | None, skip: int, limit: int
) -> Sequence[EmailAccount]:
    conditions = [EmailAccount.organization_id == organization_id]
    if user_id is not None:
        conditions.append(EmailAccount.user_id == user_id)
    statement = (
        select(EmailAccount)
        .where(*conditions)
        .order_by(EmailAccount.created_at.desc(), EmailAccount.id.desc())
        .offset(skip)
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


async def clear_default(session: AsyncSession, user_id: str) -> None:
    await session.execute(
        update(EmailAccount).where(EmailAccount.user_id == user_id).values(is_default=False)
    )


async def record_send_status(
    session: AsyncSession, account_id: str, status: str, error: str | None
) -> None:
    """Written only when it changes: a healthy account is not rewritten by every batch (and
    ``updated_at``, part of the account's route key, is left alone)."""
    await session.execute(
        update(EmailAccount)
        .where(
            EmailAccount.id == account_id,
            or_(
                EmailAccount.send_status != status,
                EmailAccount.latest_send_error.is_distinct_from(error),
            ),
        )
        .values(send_status=status, latest_send_error=error)
        .execution_options(synchronize_session=False)
    )


def add(session: AsyncSession, account: EmailAccount) -> None:
    session.add(account)
