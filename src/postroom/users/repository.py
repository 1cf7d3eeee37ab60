"""Every SQL statement about organizations, users and API keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.models import ApiKey, Organization, User
from postroom.models.user import joined_name


async def find_organization_by_handle(session: AsyncSession, handle: str) -> Organization | None:
    result = await session.execute(select(Organization).where(Organization.handle == handle))
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


async def users_of_organization(session: AsyncSession, organization_id: str) -> Sequence[User]:
    """Every user of the organization, oldest first."""
    statement = (
        select(User)
        .where(User.organization_id == organization_id)
        .order_by(User.created_at, User.id)
    )
    return (await session.execute(statement)).scalars().all()


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


@dataclass(frozen=True, slots=True)
class KeyOwner:
    """What a request needs of its API key and the key's user."""

    api_key_id: str
    user_id: str
    organization_id: str
    email: str
    first_name: str
    last_name: str

    @property
    def full_name(self) -> str:
        return joined_name(self.first_name, self.last_name)


KEY_OWNER = (
    select(ApiKey.id, User.id, User.organization_id, User.email, User.first_name, User.last_name)
    .join(User, User.id == ApiKey.user_id)
    .where(ApiKey.key_hash == bindparam("key_hash"))
)
"""Built once: every request runs it, and building a statement costs more than running it."""


async def find_key_owner(session: AsyncSession, key_hash: str) -> KeyOwner | None:
    """The API key with this hash and its user's columns, read as Core on the session's
    connection (no ORM objects: loading the two was most of the check's cost). The user's
    name is remembered for the transaction (most emails a request renders are the caller's)."""
    connection = await session.connection()
    row = (await connection.execute(KEY_OWNER, {"key_hash": key_hash})).first()
    if row is None:
        return None
    owner = KeyOwner(*row)
    known_user_names(session)[owner.user_id] = display_name(owner)
    return owner


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
