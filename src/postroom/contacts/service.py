"""Rules about contacts. Never commits.

A contact stays on the lead it was created on: a PUT naming another ``lead_id`` is a 400
(its emails, threads and tasks belong to that lead, and a thread belongs to one lead).

Contacts are returned as ``ContactView``s: each with the addresses of the organization's
unsubscribe list it shows as ``is_unsubscribed`` (one look-up per contact or page). An email
posted with ``is_unsubscribed: true`` puts its address on that list.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.contacts import lead_events, repository
from postroom.contacts.schemas import (
    ContactCreate,
    ContactEmailIn,
    ContactFields,
    ContactUpdate,
    ContactView,
    flagged_unsubscribed,
    render_contact,
    stored_emails,
)
from postroom.emails import event_log
from postroom.emails import repository as email_repository
from postroom.errors import NotFound, ValidationFailed
from postroom.events.service import Change, Origin, record, record_many
from postroom.kit.datetimes import utcnow
from postroom.kit.ids import new_id
from postroom.kit.sql import has_changes
from postroom.kit.tenancy import check_posted_organization
from postroom.leads import repository as lead_repository
from postroom.models import Contact, Lead
from postroom.tasks import repository as task_repository
from postroom.tasks import service as task_service
from postroom.unsubscribes import service as unsubscribe_service
from postroom.users.auth import Caller

MOVE_REFUSED = (
    "A contact cannot move to another lead: its emails, threads and tasks stay with its lead."
)


def new_contact(caller: Caller, lead_id: str, fields: ContactFields) -> Contact:
    """A contact row for ``lead_id`` built from request fields (not yet added)."""
    return Contact(
        id=new_id("cont"),
        organization_id=caller.organization_id,
        lead_id=lead_id,
        name=fields.name,
        title=fields.title,
        emails=stored_emails(fields.emails),
        phones=[item.model_dump() for item in fields.phones or []],
        urls=[item.model_dump() for item in fields.urls or []],
        created_by=caller.user_id,
        updated_by=caller.user_id,
    )


async def _lead_for_new_contact(
    session: AsyncSession, caller: Caller, body: ContactCreate
) -> tuple[Lead, bool]:
    """The contact's lead, and whether it is made for the contact (no ``lead_id`` posted)."""
    if body.lead_id is not None:
        lead = await lead_repository.get_referenced_lead(
            session, caller.organization_id, body.lead_id
        )
        if lead is None:
            raise ValidationFailed.field("lead_id", "Lead not found.")
        return lead, False
    name = body.name or (body.emails[0].email if body.emails else None)
    lead = Lead(id=new_id("lead"), organization_id=caller.organization_id, name=name)
    lead.created_by = lead.updated_by = caller.user_id
    lead_repository.add(session, lead)
    await session.flush()
    return lead, True


async def unsubscribe_flagged(
    session: AsyncSession, caller: Caller, emails: Iterable[ContactEmailIn] | None
) -> None:
    """Put the addresses posted with ``is_unsubscribed: true`` on the unsubscribe list."""
    flagged = flagged_unsubscribed(emails)
    if flagged:
        await unsubscribe_service.add_addresses(session, caller, flagged)


async def view_of(session: AsyncSession, contact: Contact) -> ContactView:
    unsubscribed = await unsubscribe_service.unsubscribed_of(
        session, contact.organization_id, [contact]
    )
    return ContactView(contact, unsubscribed)


async def create_contact(session: AsyncSession, caller: Caller, body: ContactCreate) -> ContactView:
    """Create the contact and record its ``created`` event with its lead's: ``created`` when
    the lead was made for it (before the contact's), else ``updated`` (after it)."""
    check_posted_organization(body, caller.organization_id)
    lead, new_lead = await _lead_for_new_contact(session, caller, body)
    lead_before = None if new_lead else await lead_events.rendered_lead(session, caller, lead)
    contact = new_contact(caller, lead.id, body)
    repository.add(session, contact)
    await session.flush()
    await unsubscribe_flagged(session, caller, body.emails)
    view = await view_of(session, contact)
    created = contact_change(view, "created")
    if lead_before is None:
        changes = [await lead_events.lead_created(session, caller, lead), created]
    else:
        changes = [created, await lead_events.contacts_changed(session, caller, lead, lead_before)]
    origin = Origin.of(caller)
    await record_many(session, [(origin, change) for change in changes])
    return view


def contact_change(
    view: ContactView, action: str, previous: dict[str, Any] | None = None
) -> Change:
    contact = view.contact
    data = render_contact(view)
    return Change("contact", action, contact.id, contact.lead_id, data, previous)


async def get_contact(
    session: AsyncSession, caller: Caller, contact_id: str, locked: bool = False
) -> Contact:
    contact = await repository.get_contact(session, caller.organization_id, contact_id, locked)
    if contact is None:
        raise NotFound("Contact")
    return contact


async def read_contact(session: AsyncSession, caller: Caller, contact_id: str) -> ContactView:
    return await view_of(session, await get_contact(session, caller, contact_id))


async def list_contacts(
    session: AsyncSession, caller: Caller, skip: int, limit: int, lead_ids: list[str] | None
) -> list[ContactView]:
    contacts = await repository.list_contacts(
        session, caller.organization_id, skip, limit, lead_ids
    )
    unsubscribed = await unsubscribe_service.unsubscribed_of(
        session, caller.organization_id, contacts
    )
    return [ContactView(contact, unsubscribed) for contact in contacts]


async def update_contact(
    session: AsyncSession, caller: Caller, contact_id: str, body: ContactUpdate
) -> ContactView:
    contact = await get_contact(session, caller, contact_id, locked=True)
    check_posted_organization(body, caller.organization_id)
    before = render_contact(await view_of(session, contact))
    sent = body.model_fields_set
    if "lead_id" in sent and body.lead_id != contact.lead_id:
        raise ValidationFailed.field("lead_id", MOVE_REFUSED)
    if "name" in sent:
        contact.name = body.name
    if "title" in sent:
        contact.title = body.title
    if "emails" in sent:
        contact.emails = stored_emails(body.emails)
        await unsubscribe_flagged(session, caller, body.emails)
    for name in ("phones", "urls"):
        if name in sent:
            setattr(contact, name, [item.model_dump() for item in getattr(body, name) or []])
    if not has_changes(contact):
        return await view_of(session, contact)
    contact.updated_by = caller.user_id
    contact.updated_at = utcnow()
    await session.flush()
    view = await view_of(session, contact)
    await record(session, Origin.of(caller), contact_change(view, "updated", before))
    return view


async def delete_contact(session: AsyncSession, caller: Caller, contact_id: str) -> None:
    """Delete the contact; its emails, threads and tasks stay, their ``contact_id`` cleared
    (the foreign key would do it unseen) and marked updated now by the caller, each with an
    ``updated`` event before the contact's ``deleted`` one, and its lead's ``updated`` event
    last. The emails' events are written a chunk at a time, so a contact of many emails is
    never all in memory."""
    contact = await get_contact(session, caller, contact_id, locked=True)
    origin = Origin.of(caller)
    deleted = contact_change(await view_of(session, contact), "deleted")
    lead = await lead_repository.get_lead(session, caller.organization_id, contact.lead_id)
    lead_before = None if lead is None else await lead_events.rendered_lead(session, caller, lead)
    threads = await repository.threads_of_contact(session, contact)
    threads_before = await event_log.rendered_threads(session, origin, threads)
    now = utcnow()
    await _release_emails(session, origin, contact.id, now)
    changes = [
        *await _release_threads(session, origin, contact, threads_before, now),
        *await _release_tasks(session, origin, contact, now),
    ]
    await repository.delete_contact(session, contact)
    changes.append(deleted)
    if lead is not None and lead_before is not None:
        changes.append(await lead_events.contacts_changed(session, caller, lead, lead_before))
    await record_many(session, [(origin, change) for change in changes])


async def _release_emails(
    session: AsyncSession, origin: Origin, contact_id: str, now: datetime
) -> None:
    async for emails in email_repository.emails_of_contact(session, contact_id):
        before = await event_log.rendered_emails(session, emails)
        for email in emails:
            email.contact_id, email.updated_at, email.updated_by = None, now, origin.user_id
        await session.flush()
        changes = await event_log.email_updates(session, emails, before)
        await record_many(session, [(origin, change) for change in changes])


async def _release_threads(
    session: AsyncSession,
    origin: Origin,
    contact: Contact,
    before: dict[str, dict[str, Any]],
    now: datetime,
) -> list[Change]:
    """``before``: the threads as they were, their emails still naming the contact. They are
    read again, locked, after the emails (the order an email's deletion takes them in): one
    deleted meanwhile is left out."""
    locked = await repository.threads_of_contact(session, contact, locked=True)
    threads = [thread for thread in locked if thread.id in before]
    for thread in threads:
        thread.contact_id, thread.updated_at = None, now
    await session.flush()
    return await event_log.thread_updates(session, origin, threads, before)


async def _release_tasks(
    session: AsyncSession, origin: Origin, contact: Contact, now: datetime
) -> list[Change]:
    tasks = await task_repository.tasks_of_contact(session, contact.id)
    before = await task_service.rendered_tasks(session, contact.organization_id, tasks)
    for task in tasks:
        task.contact_id, task.updated_at, task.updated_by = None, now, origin.user_id
    await session.flush()
    return await task_service.task_updates(session, contact.organization_id, tasks, before)
