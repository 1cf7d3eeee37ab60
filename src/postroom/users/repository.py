"""Every SQL statement about organizations, users and API keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.models import ApiKey, Organization, User
from postroom.models.user import joined_name


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


KEY_OWNER = (
    select(ApiKey, User)
    .join(User, User.id == ApiKey.user_id)
    .where(ApiKey.key_hash == bindparam("key_hash"))
)
"""Built once: every request runs it, and building a statement costs more than running it."""


async def find_key_owner(session: AsyncSession, key_hash: str) -> tuple[ApiKey, User] | None:
    """The API key with this hash and its user; the user's name is remembered for the
    transaction (most emails a request renders are the caller's own)."""
    row = (await session.execute(KEY_OWNER, {"key_hash": key_hash})).first()
    if row is None:
        return None
    api_key, user = row
    known_user_names(session)[user.id] = display_name(user)
    return api_key, user


class NamedUser(Protocol):
    """A user, or a row of its name columns."""

    @property
    def first_name(self) -> str | None: ...

    @property
    def last_name(self) -> str | None: ...

    @property
    def email(self) -> str: ...


def display_name(user: NamedUser) -> str:
    """The full name, else the address."""
    return joined_name(user.first_name, user.last_name) or user.email


def known_user_names(session: AsyncSession) -> dict[str, str]:
    """Display names of the users already read in this transaction, by id."""
    known: dict[str, str] = session.info.setdefault("user_names", {})
    return known


def add(session: AsyncSession, row: Organization | User | ApiKey) -> None:
    session.add(row)
