"""Response shapes of users, ``/me/`` and organizations (Close's field names)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field, field_validator

from postroom.kit.datetimes import format_datetime
from postroom.kit.schemas import RequestModel
from postroom.leads.statuses import LeadStatus
from postroom.models import Organization, User

MAX_ORGANIZATION_NAME = 255


class OrganizationRef(BaseModel):
    id: str
    name: str


class UserOut(BaseModel):
    id: str
    email: str
    first_name: str
    last_name: str
    display_name: str
    date_created: str
    date_updated: str
    organizations: list[OrganizationRef] = []


class MembershipOut(BaseModel):
    """A user's place in the organization: the user's fields prefixed ``user_``, or (with
    ``_expand=memberships__user``) a nested ``user`` instead of them."""

    id: str
    organization_id: str
    user_id: str
    user_email: str | None = None
    user_first_name: str | None = None
    user_last_name: str | None = None
    user_full_name: str | None = None
    user: UserOut | None = None
    date_created: str
    date_updated: str


class LeadStatusOut(BaseModel):
    """A status a lead can have; ``id`` is the ``status_id`` a lead of that label shows."""

    id: str
    label: str


class OrganizationOut(BaseModel):
    id: str
    name: str
    memberships: list[MembershipOut]
    inactive_memberships: list[MembershipOut]
    lead_statuses: list[LeadStatusOut]
    date_created: str
    date_updated: str


class OrganizationUpdate(RequestModel):
    """PUT behaves as PATCH: only the fields sent change. ``currency`` and ``lead_statuses``
    are read as sent so that the service can refuse them by name: any ``currency``, and
    ``lead_statuses`` other than the list GET shows (Postroom cannot change them)."""

    name: str | None = Field(default=None, max_length=MAX_ORGANIZATION_NAME)
    currency: Any = None
    lead_statuses: Any = None

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str | None) -> str:
        if value is None or not value.strip():
            raise ValueError("An organization's name cannot be empty.")
        if any(character < " " or character == "\x7f" for character in value.strip()):
            raise ValueError("An organization's name is one line, without control characters.")
        return value.strip()


class UserList(BaseModel):
    data: list[UserOut]
    has_more: bool


def render_user(user: User, organization: Organization | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "display_name": user.full_name or user.email,
        "date_created": format_datetime(user.created_at),
        "date_updated": format_datetime(user.updated_at),
        "organizations": [],
    }
    if organization is not None:
        document["organizations"] = [{"id": organization.id, "name": organization.name}]
    return document


def membership_id(organization_id: str, user_id: str) -> str:
    """A stable ``mem_`` id per organization and user (memberships are not stored: a user
    belongs to one organization)."""
    digest = hashlib.sha256(f"{organization_id}:{user_id}".encode()).hexdigest()[:32]
    return f"mem_{digest}"


def render_membership(user: User, organization: Organization, nest_user: bool) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": membership_id(organization.id, user.id),
        "organization_id": organization.id,
        "user_id": user.id,
    }
    if nest_user:
        document["user"] = render_user(user, organization)
    else:
        document["user_email"] = user.email
        document["user_first_name"] = user.first_name
        document["user_last_name"] = user.last_name
        document["user_full_name"] = user.full_name or user.email
    document["date_created"] = format_datetime(user.created_at)
    document["date_updated"] = format_datetime(user.updated_at)
    return document


EXPANDABLE = frozenset({"memberships__user", "inactive_memberships__user"})
"""What ``_expand`` of ``/organization/{id}/`` takes (comma-separated)."""


def render_lead_statuses(statuses: Sequence[LeadStatus]) -> list[dict[str, str]]:
    return [{"id": status.id, "label": status.label} for status in statuses]


def render_organization(
    organization: Organization,
    users: Sequence[User],
    statuses: Sequence[LeadStatus],
    expand: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Every user is an active member: Postroom has no inactive users."""
    nest = "memberships__user" in expand
    return {
        "id": organization.id,
        "name": organization.name,
        "memberships": [render_membership(user, organization, nest) for user in users],
        "inactive_memberships": [],
        "lead_statuses": render_lead_statuses(statuses),
        "date_created": format_datetime(organization.created_at),
        "date_updated": format_datetime(organization.updated_at),
    }
