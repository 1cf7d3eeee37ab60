"""Every SQL statement about contacts (deleting one leaves its emails, threads and tasks, their
``contact_id`` null)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.kit.sql import for_change, kept
from postroom.models import Contact, EmailThread


async def get_contact(
    session: AsyncSession, organization_id: str, contact_id: str, locked: bool = False
) -> Contact | None:
    """The contact; ``locked``: for a change (``kit.sql.for_change``)."""
    statement = select(Contact).where(
        Contact.id == contact_id, Contact.organization_id == organization_id
    )
    return (await session.execute(for_change(statement, locked))).scalar_one_or_none()


async def get_referenced_contact(
    session: AsyncSession, organization_id: str, contact_id: str
) -> Contact | None:
    """The contact, kept from deletion until this transaction ends, for something about to
    name it (``kit.sql.kept``)."""
    statement = select(Contact).where(
        Contact.id == contact_id, Contact.organization_id == organization_id
    )
    return (await session.execute(kept(statement))).scalar_one_or_none()


async def list_contacts(
    session: AsyncSession,
    organization_id: str,
    skip: int,
    limit: int,
    lead_ids: Sequence[str] | None = None,
) -> Sequence[Contact]:
    """A page of contacts, newest first; ``lead_ids`` (unless None) restricts it to those leads."""
    statement = select(Contact).where(Contact.organization_id == organization_id)
    if lead_ids is not None:
        statement = statement.where(Contact.lead_id.in_(lead_ids))
    statement = statement.order_by(Contact.created_at.desc(), Contact.id.desc())
    return (await session.execute(statement.offset(skip).limit(limit))).scalars().all()


async def contacts_of_leads(
    session: AsyncSession, organization_id: str, lead_ids: Sequence[str]
) -> Sequence[Contact]:
    """Every contact of the given leads, oldest first (the order Close shows them in)."""
    if not lead_ids:
        return []
    statement = (
        select(Contact)
        .where(Contact.organization_id == organization_id, Contact.lead_id.in_(lead_ids))
        .order_by(Contact.created_at, Contact.id)
    )
    return (await session.execute(statement)).scalars().all()


async def threads_of_contact(
    session: AsyncSession, contact: Contact, locked: bool = False
) -> Sequence[EmailThread]:
    """The threads naming the contact; ``locked``: for a change (``kit.sql.for_change``: a
    thread deleted meanwhile is left out)."""
    statement = (
        select(EmailThread)
        .where(EmailThread.contact_id == contact.id)
        .order_by(EmailThread.created_at, EmailThread.id)
    )
    return (await session.execute(for_change(statement, locked))).scalars().all()


async def delete_contact(session: AsyncSession, contact: Contact) -> None:
    await session.execute(delete(Contact).where(Contact.id == contact.id))


def add(session: AsyncSession, contact: Contact) -> None:
    session.add(contact)
