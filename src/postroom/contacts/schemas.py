"""Contacts: request bodies and the response shape (Close's field names).

A contact email's ``is_unsubscribed`` is not stored on the contact: it says whether the
address is on the organization's unsubscribe list (``postroom.unsubscribes``), compared
case-insensitively, when the contact is read. Posted as ``true`` it puts the address on that
list; posted as ``false`` it changes nothing (resubscribing is ``DELETE
/unsubscribe/email/{address}/``), since clients post back whole objects they read earlier.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, Field, field_validator

from postroom.kit.datetimes import format_datetime
from postroom.kit.schemas import Boolean, RequestModel
from postroom.kit.tenancy import PostedOrganization
from postroom.models import Contact


class ContactEmailIn(RequestModel):
    email: str = Field(max_length=320)
    type: str = Field(default="office", max_length=50)
    is_unsubscribed: Boolean = False

    @field_validator("email")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as error:
            raise ValueError(f"Invalid email address: {error}") from error


class ContactPhoneIn(RequestModel):
    phone: str = Field(max_length=100)
    type: str = Field(default="office", max_length=50)


class ContactUrlIn(RequestModel):
    url: str = Field(max_length=2000)
    type: str = Field(default="url", max_length=50)


class ContactFields(PostedOrganization):
    """Fields shared by nested contacts, contact creation and updates."""

    name: str | None = Field(default=None, max_length=1000)
    title: str | None = Field(default=None, max_length=1000)
    emails: list[ContactEmailIn] | None = Field(default=None, max_length=100)
    phones: list[ContactPhoneIn] | None = Field(default=None, max_length=100)
    urls: list[ContactUrlIn] | None = Field(default=None, max_length=100)


class ContactCreate(ContactFields):
    lead_id: str | None = Field(default=None, max_length=64)


class ContactUpdate(ContactFields):
    """``lead_id`` may only repeat the contact's own lead: a contact does not move."""

    lead_id: str | None = Field(default=None, max_length=64)


class ContactOut(BaseModel):
    id: str
    organization_id: str
    lead_id: str | None
    name: str | None
    display_name: str
    title: str | None
    emails: list[dict[str, Any]]
    phones: list[dict[str, Any]]
    urls: list[dict[str, Any]]
    created_by: str | None
    updated_by: str | None
    date_created: str
    date_updated: str


class ContactList(BaseModel):
    data: list[ContactOut]
    has_more: bool


@dataclass(frozen=True)
class ContactView:
    """A contact, and which addresses (lower-case) are on its organization's unsubscribe list:
    at least those of the contact's own emails that are."""

    contact: Contact
    unsubscribed: Set[str]


def stored_emails(emails: Iterable[ContactEmailIn] | None) -> list[dict[str, Any]]:
    """The ``emails`` column: ``{email, type}`` items (``is_unsubscribed`` lives in the list)."""
    return [item.model_dump(exclude={"is_unsubscribed"}) for item in emails or []]


def flagged_unsubscribed(emails: Iterable[ContactEmailIn] | None) -> set[str]:
    """The addresses posted with ``is_unsubscribed: true``, lower-case."""
    return {item.email.lower() for item in emails or [] if item.is_unsubscribed}


def contact_addresses(contacts: Iterable[Contact]) -> set[str]:
    """Every address of ``contacts``, lower-case."""
    return {str(item["email"]).lower() for contact in contacts for item in contact.emails}


def render_contact_email(item: dict[str, Any], unsubscribed: Set[str]) -> dict[str, Any]:
    return {**item, "is_unsubscribed": str(item["email"]).lower() in unsubscribed}


def contact_display_name(contact: Contact) -> str:
    if contact.name:
        return contact.name
    return str(contact.emails[0]["email"]) if contact.emails else ""


def render_contact_phone(phone: dict[str, Any]) -> dict[str, Any]:
    """A stored phone as shown (Close adds ``phone_formatted``; Postroom keeps it as posted)."""
    return {**phone, "phone_formatted": phone["phone"]}


def render_contact(view: ContactView) -> dict[str, Any]:
    contact = view.contact
    return {
        "id": contact.id,
        "organization_id": contact.organization_id,
        "lead_id": contact.lead_id,
        "name": contact.name,
        "display_name": contact_display_name(contact),
        "title": contact.title,
        "emails": [render_contact_email(item, view.unsubscribed) for item in contact.emails],
        "phones": [render_contact_phone(phone) for phone in contact.phones],
        "urls": list(contact.urls),
        "integration_links": [],
        "created_by": contact.created_by,
        "updated_by": contact.updated_by,
        "date_created": format_datetime(contact.created_at),
        "date_updated": format_datetime(contact.updated_at),
    }
