"""Leads: request bodies and the response shape, with nested contacts."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, Field

from postroom.contacts.schemas import (
    ContactFields,
    ContactOut,
    ContactView,
    contact_display_name,
    render_contact,
    render_contact_email,
    render_contact_phone,
)
from postroom.kit.datetimes import format_datetime, utcnow
from postroom.kit.schemas import RequestModel
from postroom.kit.tenancy import PostedOrganization
from postroom.models import Contact, Lead
from postroom.tasks.schemas import TaskPage, render_task, start_of_tomorrow

ADDRESS_FIELDS = ("label", "address_1", "address_2", "city", "state", "zipcode", "country")
MAX_ADDRESSES = 100


class LeadAddress(RequestModel):
    """One of a lead's ``addresses`` (Close's ``LeadAddress``): every field optional text."""

    label: str | None = Field(default=None, max_length=1000)
    address_1: str | None = Field(default=None, max_length=1000)
    address_2: str | None = Field(default=None, max_length=1000)
    city: str | None = Field(default=None, max_length=1000)
    state: str | None = Field(default=None, max_length=1000)
    zipcode: str | None = Field(default=None, max_length=1000)
    country: str | None = Field(default=None, max_length=1000)


def stored_addresses(addresses: Sequence[LeadAddress] | None) -> list[dict[str, str | None]]:
    """The addresses as stored and shown: every field, ``null`` where none was posted."""
    return [address.model_dump(include=set(ADDRESS_FIELDS)) for address in addresses or []]


class LeadFields(PostedOrganization):
    name: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=100_000)
    url: str | None = Field(default=None, max_length=2000)
    status_label: str | None = Field(default=None, max_length=255)
    status: str | None = Field(default=None, max_length=255)
    status_id: str | None = Field(default=None, max_length=64)
    addresses: list[LeadAddress] | None = Field(default=None, max_length=MAX_ADDRESSES)


class LeadCreate(LeadFields):
    contacts: list[ContactFields] | None = Field(default=None, max_length=500)


class LeadUpdate(LeadFields):
    pass


class LeadOut(BaseModel):
    id: str
    organization_id: str
    name: str | None
    display_name: str
    description: str | None
    url: str | None
    html_url: str
    status_id: str
    status_label: str
    contacts: list[ContactOut]
    contact_ids: list[str]
    addresses: list[LeadAddress]
    created_by: str | None
    updated_by: str | None
    date_created: str
    date_updated: str


class LeadList(BaseModel):
    data: list[LeadOut]
    has_more: bool


@dataclass(frozen=True)
class LeadView:
    """A lead with its contacts, oldest contact first, which of their addresses are on the
    organization's unsubscribe list (lower-case), and its incomplete tasks (Close's lead
    ``tasks``: "only returns incomplete tasks"), oldest first, with the caller's ``view``."""

    lead: Lead
    contacts: Sequence[Contact]
    unsubscribed: Set[str]
    tasks: TaskPage
    user_names: Mapping[str, str]
    """Display names of the lead's ``created_by`` and ``updated_by`` (``lead_user_ids``)."""

    def seen_in_utc(self) -> LeadView:
        """The lead as an event shows it: its tasks' ``view`` as seen in UTC (events carry no
        caller's time zone, as task events do not)."""
        return replace(self, tasks=replace(self.tasks, tomorrow=start_of_tomorrow(utcnow(), None)))


def status_id_for(organization_id: str, label: str) -> str:
    """A stable ``stat_`` id per organization and status label (statuses are labels here)."""
    digest = hashlib.sha256(f"{organization_id}:{label}".encode()).hexdigest()[:32]
    return f"stat_{digest}"


def lead_display_name(lead: Lead, contacts: Sequence[Contact]) -> str:
    if lead.name:
        return lead.name
    return contact_display_name(contacts[0]) if contacts else ""


def lead_user_ids(lead: Lead) -> set[str]:
    """The users a rendered lead names: who created it and who changed it last."""
    return {user_id for user_id in (lead.created_by, lead.updated_by) if user_id}


def render_lead(view: LeadView, public_url: str) -> dict[str, Any]:
    lead, contacts, unsubscribed = view.lead, view.contacts, view.unsubscribed
    first_email = next((c.emails[0] for c in contacts if c.emails), None)
    primary_email = None if first_email is None else render_contact_email(first_email, unsubscribed)
    first_phone = next((c.phones[0] for c in contacts if c.phones), None)
    primary_phone = None if first_phone is None else render_contact_phone(first_phone)
    return {
        "id": lead.id,
        "organization_id": lead.organization_id,
        "name": lead.name,
        "display_name": lead_display_name(lead, contacts),
        "description": lead.description,
        "url": lead.url,
        "html_url": f"{public_url.rstrip('/')}/lead/{lead.id}/",
        "status_id": status_id_for(lead.organization_id, lead.status_label),
        "status_label": lead.status_label,
        "contacts": [render_contact(ContactView(contact, unsubscribed)) for contact in contacts],
        "contact_ids": [contact.id for contact in contacts],
        "primary_email": primary_email,
        "primary_phone": primary_phone,
        "addresses": [
            {name: address.get(name) for name in ADDRESS_FIELDS} for address in lead.addresses or []
        ],
        "opportunities": [],
        "tasks": [render_task(task, view.tasks) for task in view.tasks.tasks],
        "integration_links": [],
        "created_by": lead.created_by,
        "created_by_name": view.user_names.get(lead.created_by or ""),
        "updated_by": lead.updated_by,
        "updated_by_name": view.user_names.get(lead.updated_by or ""),
        "date_created": format_datetime(lead.created_at),
        "date_updated": format_datetime(lead.updated_at),
    }
