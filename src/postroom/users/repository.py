"""Every SQL statement about organizations, users and API keys."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.models import ApiKey, Organization, User


async def find_organization_by_name(session: AsyncSession, name: str) -> Organization | None:
    result = await session.execute(select(Organization).where(Organization.name == name))
    return result.scalar_one_or_none()


async def get_organization(session: AsyncSession, organization_id: str) -> Organization | None:
    return await session.get(Organization, organization_id)


async def count_organizations(session: AsyncSession) -> int:
    result = await session.execute(select(Organization.id).limit(1))
    return len(result.all())


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == email))
    return result.scalar_one_or_none()


async def get_user(session: AsyncSession, organization_id: str, user_id: str) -> User | None:
    statement = select(User).where(User.id == user_id, User.organization_id == organization_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def list_users(
    session: AsyncSession, organization_id: str, skip: int, limit: int
) -> Sequence[User]:
    statement = (
        select(User)
        .where(User.organization_id == organization_id)
        .order_by(User.created_at.desc(), User.id.desc())
        .offset(skip)
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


async def find_key_owner(session: AsyncSession, key_hash: str) -> tuple[ApiKey, User] | None:
    statement = (
        select(ApiKey, User)
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.key_hash == key_hash)
    )
    row = (await session.execute(statement)).first()
    return None if row is None else (row[0], row[1])


def add(session: AsyncSession, row: Organization | User | ApiKey) -> None:
    session.add(row)
