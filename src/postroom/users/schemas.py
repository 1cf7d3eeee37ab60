"""Response shapes of users, ``/me/`` and organizations (Close's field names)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from postroom.kit.datetimes import format_datetime
from postroom.models import Organization, User


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


class OrganizationOut(BaseModel):
    id: str
    name: str
    date_created: str
    date_updated: str


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


def render_organization(organization: Organization) -> dict[str, Any]:
    return {
        "id": organization.id,
        "name": organization.name,
        "date_created": format_datetime(organization.created_at),
        "date_updated": format_datetime(organization.updated_at),
    }
