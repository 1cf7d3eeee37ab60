"""Every SQL statement about idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.kit.sql import affected_rows
from postroom.models import IdempotencyKey

RUNNING = "running"
DONE = "done"


async def insert_key(session: AsyncSession, row: IdempotencyKey) -> bool:
    """Insert ``row``; False when the organization already has its key."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def get_key(session: AsyncSession, organization_id: str, key: str) -> IdempotencyKey | None:
    statement = select(IdempotencyKey).where(
        IdempotencyKey.organization_id == organization_id, IdempotencyKey.key == key
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def delete_abandoned(
    session: AsyncSession, row_id: str, now: datetime, stale_before: datetime
) -> bool:
    """Delete the row if it expired, or is still running since before ``stale_before``."""
    statement = delete(IdempotencyKey).where(
        IdempotencyKey.id == row_id,
        or_(
            IdempotencyKey.expires_at <= now,
            (IdempotencyKey.state == RUNNING) & (IdempotencyKey.created_at < stale_before),
        ),
    )
    return affected_rows(await session.execute(statement)) == 1


async def finish(
    session: AsyncSession, row_id: str, status: int, body: dict[str, Any], now: datetime
) -> bool:
    """Store the response on a running row; False when the row is no longer ours."""
    statement = (
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row_id, IdempotencyKey.state == RUNNING)
        .values(state=DONE, response_status=status, response_body=body, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(await session.execute(statement)) == 1


async def delete_running(session: AsyncSession, row_id: str) -> None:
    statement = delete(IdempotencyKey).where(
        IdempotencyKey.id == row_id, IdempotencyKey.state == RUNNING
    )
    await session.execute(statement)


async def delete_expired(session: AsyncSession, now: datetime, limit: int) -> int:
    """Delete up to ``limit`` expired keys, the first expired first (``ix_idempotency_keys_
    expires``); return how many went."""
    expired = (
        select(IdempotencyKey.id)
        .where(IdempotencyKey.expires_at <= now)
        .order_by(IdempotencyKey.expires_at)
        .limit(limit)
    )
    statement = (
        delete(IdempotencyKey)
        .where(IdempotencyKey.id.in_(expired.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    return affected_rows(await session.execute(statement))
