"""Rules about organizations, users and API keys. Never commits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.errors import NotFound, ValidationFailed
from postroom.kit.datetimes import utcnow
from postroom.kit.ids import new_id
from postroom.kit.text import sort_key
from postroom.leads.statuses import LeadStatus, organization_statuses
from postroom.models import ApiKey, Organization, User
from postroom.users import repository
from postroom.users.auth import Caller, hash_api_key
from postroom.users.schemas import EXPANDABLE, OrganizationUpdate, render_lead_statuses

DEFAULT_ORGANIZATION = "Default"
CURRENCY_REFUSED = "Postroom has no opportunities or other amounts, so it keeps no currency."
"""Why ``PUT /organization/{id}/`` refuses ``currency``, whatever value is sent."""
LEAD_STATUSES_REFUSED = (
    "Postroom's lead statuses are the labels its leads have, the default first and the others "
    "by label: they cannot be reordered, added, renamed or removed here. Post them as GET "
    "shows them, or leave them out."
)
"""Why ``PUT /organization/{id}/`` refuses ``lead_statuses`` other than the list GET shows."""


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
    lead_statuses: Sequence[LeadStatus]


async def get_organization_with_members(
    session: AsyncSession, caller: Caller, organization_id: str
) -> OrganizationView:
    organization = await get_organization(session, caller, organization_id)
    members = await repository.users_of_organization(session, organization.id)
    statuses = await organization_statuses(session, organization.id)
    return OrganizationView(organization, members, statuses)


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
    ``currency``, and ``lead_statuses`` other than the ones GET shows, are refused by name.
    A PUT that changes nothing changes nothing, ``date_updated`` included."""
    view = await get_organization_with_members(session, caller, organization_id)
    _refuse_unsupported(body, view.lead_statuses)
    if "name" in body.model_fields_set and body.name != view.organization.name:
        await _rename(session, view.organization, body.name or "")
    return view


def _refuse_unsupported(body: OrganizationUpdate, statuses: Sequence[LeadStatus]) -> None:
    """``lead_statuses`` is accepted only as GET shows it, same order (the GET object posted
    back): Postroom keeps no order of statuses, so any other list would be a change it does
    not make."""
    refused: dict[str, str] = {}
    if "currency" in body.model_fields_set:
        refused["currency"] = CURRENCY_REFUSED
    sent = body.lead_statuses
    if "lead_statuses" in body.model_fields_set and sent != render_lead_statuses(statuses):
        refused["lead_statuses"] = LEAD_STATUSES_REFUSED
    if refused:
        raise ValidationFailed(field_errors=refused)


async def _rename(session: AsyncSession, organization: Organization, name: str) -> None:
    """Any name, another organization's included: names are not unique, so a rename tells
    nothing about other organizations, and the handle the CLI finds the organization by stays
    (``Organization.handle``)."""
    organization.display_name = name
    organization.updated_at = utcnow()
    await session.flush()
