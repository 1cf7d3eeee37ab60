"""Rules about organizations, users and API keys. Never commits."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.errors import NotFound, ValidationFailed
from postroom.kit.datetimes import utcnow
from postroom.kit.ids import new_id
from postroom.models import ApiKey, Organization, User
from postroom.users import repository
from postroom.users.auth import Caller, hash_api_key
from postroom.users.schemas import EXPANDABLE, OrganizationUpdate

DEFAULT_ORGANIZATION = "Default"
UNSUPPORTED_ORGANIZATION_FIELDS = {
    "currency": "Postroom has no opportunities or other amounts, so it keeps no currency.",
    "lead_statuses": (
        "Postroom's lead statuses are the labels its leads have, in no stored order: "
        "they cannot be reordered."
    ),
}
"""What ``PUT /organization/{id}/`` refuses, and why, whatever value is sent."""


@dataclass(frozen=True)
class FirstRun:
    """What ``make run`` prints on a fresh database."""

    user_email: str
    api_key: str


async def ensure_organization(session: AsyncSession, handle: str) -> Organization:
    """The organization created under ``handle`` (``users create --org``), made when missing.
    A rename through the API changes what the organization shows, never its handle, so no
    organization can take a handle meant for another one."""
    organization = await repository.find_organization_by_handle(session, handle)
    if organization is None:
        organization = Organization(id=new_id("orga"), handle=handle)
        repository.add(session, organization)
        await session.flush()
    return organization


def _split_name(name: str) -> tuple[str, str]:
    first, _, last = name.strip().partition(" ")
    return first, last.strip()


def normalized_address(address: str) -> str:
    try:
        return validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise ValidationFailed.field("email", str(error)) from error


async def create_user(
    session: AsyncSession, email: str, name: str, organization_name: str = DEFAULT_ORGANIZATION
) -> User:
    address = normalized_address(email)
    if await repository.find_user_by_email(session, address) is not None:
        raise ValidationFailed.field("email", f"A user with email {address} already exists.")
    organization = await ensure_organization(session, organization_name)
    first_name, last_name = _split_name(name)
    user = User(
        id=new_id("user"),
        organization_id=organization.id,
        email=address,
        first_name=first_name,
        last_name=last_name,
    )
    repository.add(session, user)
    await session.flush()
    return user


async def create_api_key(session: AsyncSession, user_email: str) -> str:
    """Create a key for the user and return it; only its hash is stored."""
    user = await repository.find_user_by_email(session, normalized_address(user_email))
    if user is None:
        raise NotFound("User")
    raw_key = new_id("api")
    api_key = ApiKey(
        id=new_id("apikey"),
        organization_id=user.organization_id,
        user_id=user.id,
        key_hash=hash_api_key(raw_key),
        key_prefix=raw_key[:10],
    )
    repository.add(session, api_key)
    await session.flush()
    return raw_key


async def bootstrap_first_run(session: AsyncSession, email: str, name: str) -> FirstRun | None:
    """On an empty database create an organization, a user and a key; else do nothing."""
    if await repository.count_organizations(session) > 0:
        return None
    user = await create_user(session, email, name)
    return FirstRun(user_email=user.email, api_key=await create_api_key(session, user.email))


async def get_me(session: AsyncSession, caller: Caller) -> tuple[User, Organization]:
    user = await get_user(session, caller, caller.user_id)
    organization = await get_organization(session, caller, caller.organization_id)
    return user, organization


async def get_user(session: AsyncSession, caller: Caller, user_id: str) -> User:
    user = await repository.get_user(session, caller.organization_id, user_id)
    if user is None:
        raise NotFound("User")
    return user


@dataclass(frozen=True)
class UserPage:
    users: Sequence[User]
    organization: Organization


async def list_users(
    session: AsyncSession, caller: Caller, skip: int, limit: int, order_by: str | None = None
) -> UserPage:
    """Newest first, or by name as ``_order_by`` asks (Close's two orders)."""
    order = user_order(order_by)
    if order is None:
        users = await repository.list_users(session, caller.organization_id, skip, limit)
    else:
        everyone = await repository.users_of_organization(session, caller.organization_id)
        users = sorted(everyone, key=USER_ORDERS[order])[skip : skip + limit]
    return UserPage(users, await get_organization(session, caller, caller.organization_id))


def sort_key(name: str) -> tuple[str, str]:
    """A name as an alphabetical list orders it: letters without their accents and case
    first (``Åberg`` beside ``Aberg``, not after ``Zeta``), then the name itself."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)), name


def _by_last_name(user: User) -> tuple[tuple[str, str], tuple[str, str], str]:
    return sort_key(user.last_name), sort_key(user.first_name), user.id


def _by_first_name(user: User) -> tuple[tuple[str, str], tuple[str, str], str]:
    return sort_key(user.first_name), sort_key(user.last_name), user.id


USER_ORDERS: dict[str, Callable[[User], tuple[tuple[str, str], tuple[str, str], str]]] = {
    "last_name,first_name": _by_last_name,
    "first_name,last_name": _by_first_name,
}
"""The ``_order_by`` values of ``/user/`` (Close documents these two, no descending ones):
names compared without case or accents, in Python so that both engines agree (their collations do
not), ties by id."""


def user_order(raw: str | None) -> str | None:
    """The ``_order_by`` of ``/user/``, None when absent or blank; another value is a 400."""
    if raw is None or not raw.strip():
        return None
    if raw.strip() not in USER_ORDERS:
        allowed = " or ".join(USER_ORDERS)
        raise ValidationFailed.field("_order_by", f"Order by {allowed}, not {raw!r}.")
    return raw.strip()


async def get_user_with_organization(
    session: AsyncSession, caller: Caller, user_id: str
) -> tuple[User, Organization]:
    user = await get_user(session, caller, user_id)
    return user, await get_organization(session, caller, caller.organization_id)


@dataclass(frozen=True)
class OrganizationView:
    organization: Organization
    members: Sequence[User]


async def get_organization_with_members(
    session: AsyncSession, caller: Caller, organization_id: str
) -> OrganizationView:
    organization = await get_organization(session, caller, organization_id)
    members = await repository.users_of_organization(session, organization.id)
    return OrganizationView(organization, members)


def expansions(raw: str | None) -> frozenset[str]:
    """The ``_expand`` values asked for; one Postroom does not know is a 400."""
    asked = frozenset(part.strip() for part in (raw or "").split(",") if part.strip())
    unknown = sorted(asked - EXPANDABLE)
    if unknown:
        known = ", ".join(sorted(EXPANDABLE))
        raise ValidationFailed.field("_expand", f"Cannot expand {unknown[0]!r}; use {known}.")
    return asked


async def get_organization(
    session: AsyncSession, caller: Caller, organization_id: str
) -> Organization:
    if organization_id != caller.organization_id:
        raise NotFound("Organization")
    organization = await repository.get_organization(session, organization_id)
    if organization is None:
        raise NotFound("Organization")
    return organization


async def update_organization(
    session: AsyncSession, caller: Caller, organization_id: str, body: OrganizationUpdate
) -> OrganizationView:
    """Rename the caller's organization (any member may: Postroom users have no roles);
    ``currency`` and ``lead_statuses`` are refused by name. A PUT that changes nothing
    changes nothing, ``date_updated`` included."""
    organization = await get_organization(session, caller, organization_id)
    _refuse_unsupported(body)
    if "name" in body.model_fields_set and body.name != organization.name:
        await _rename(session, organization, body.name or "")
    return await get_organization_with_members(session, caller, organization_id)


def _refuse_unsupported(body: OrganizationUpdate) -> None:
    refused = {
        name: reason
        for name, reason in UNSUPPORTED_ORGANIZATION_FIELDS.items()
        if name in body.model_fields_set
    }
    if refused:
        raise ValidationFailed(field_errors=refused)


async def _rename(session: AsyncSession, organization: Organization, name: str) -> None:
    """Any name, another organization's included: names are not unique, so a rename tells
    nothing about other organizations, and the handle the CLI finds the organization by stays
    (``Organization.handle``)."""
    organization.display_name = name
    organization.updated_at = utcnow()
    await session.flush()
