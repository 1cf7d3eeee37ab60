"""Every SQL statement about the unsubscribe list.

Adding addresses is one ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (both engines have
it): of two requests adding the same address at once, one inserts it and the other finds it
there, and neither fails on the unique ``(organization_id, email)``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.kit.sql import affected_rows
from postroom.models import UnsubscribedEmail

ADDRESSES_PER_QUERY = 10_000
"""Bound parameters of one look-up, below both engines' limits (32,766 for SQLite, 32,767
for asyncpg): a page of 100 contacts with 100 addresses each is one query."""


async def list_unsubscribed(
    session: AsyncSession, organization_id: str, skip: int, limit: int
) -> Sequence[UnsubscribedEmail]:
    """A page of the list, newest first, ties broken by id."""
    statement = (
        select(UnsubscribedEmail)
        .where(UnsubscribedEmail.organization_id == organization_id)
        .order_by(UnsubscribedEmail.created_at.desc(), UnsubscribedEmail.id.desc())
        .offset(skip)
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


async def get_unsubscribed(
    session: AsyncSession, organization_id: str, email: str
) -> UnsubscribedEmail | None:
    statement = select(UnsubscribedEmail).where(
        UnsubscribedEmail.organization_id == organization_id, UnsubscribedEmail.email == email
    )
    return (await session.execute(statement)).scalar_one_or_none()


def _chunks(addresses: Collection[str]) -> Iterator[list[str]]:
    ordered = sorted(addresses)
    for start in range(0, len(ordered), ADDRESSES_PER_QUERY):
        yield ordered[start : start + ADDRESSES_PER_QUERY]


async def unsubscribed_among(
    session: AsyncSession, organization_id: str, addresses: Collection[str]
) -> frozenset[str]:
    """Which of ``addresses`` (lower-case) are on the organization's list."""
    found: set[str] = set()
    for chunk in _chunks(addresses):
        statement = select(UnsubscribedEmail.email).where(
            UnsubscribedEmail.organization_id == organization_id,
            UnsubscribedEmail.email.in_(chunk),
        )
        found.update((await session.execute(statement)).scalars().all())
    return frozenset(found)


def _insert(session: AsyncSession) -> Any:
    bind = session.get_bind()
    return postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert


async def insert_absent(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> Sequence[UnsubscribedEmail]:
    """Insert the rows whose address is not on their organization's list yet; those rows."""
    if not rows:
        return []
    statement = (
        _insert(session)(UnsubscribedEmail)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["organization_id", "email"])
        .returning(UnsubscribedEmail)
    )
    return (await session.execute(statement)).scalars().all()


async def delete_unsubscribed(session: AsyncSession, row: UnsubscribedEmail) -> bool:
    """Delete the row; False when another transaction deleted it first."""
    statement = delete(UnsubscribedEmail).where(UnsubscribedEmail.id == row.id)
    return affected_rows(await session.execute(statement)) == 1
