"""SQL for open tracking: find an email by its pixel token (locked for the update)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.models import EmailActivity


async def email_by_open_token(session: AsyncSession, token: str) -> EmailActivity | None:
    statement = select(EmailActivity).where(EmailActivity.open_token == token).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()
