"""Rules about leads. Never commits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.contacts import repository as contact_repository
from postroom.contacts.schemas import ContactView
from postroom.contacts.service import (
    contact_change,
    new_contact,
    unsubscribe_flagged,
)
from postroom.emails import event_log
from postroom.emails import repository as email_repository
from postroom.errors import NotFound, ValidationFailed
from postroom.events.service import Change, Origin, record, record_many
from postroom.kit.datetimes import utcnow
from postroom.kit.ids import new_id
from postroom.kit.sql import has_changes
from postroom.kit.tenancy import check_posted_organization, organization_problem
from postroom.leads import repository
from postroom.leads.schemas import (
    LeadCreate,
    LeadUpdate,
    LeadView,
    lead_user_ids,
    render_lead,
    stored_addresses,
)
from postroom.leads.statuses import DEFAULT_STATUS, named_status
from postroom.models import Contact, Lead
from postroom.tasks import repository as task_repository
from postroom.tasks.schemas import TaskPage, no_tasks
from postroom.tasks.service import open_tasks_of_leads, task_deletions
from postroom.unsubscribes import service as unsubscribe_service
from postroom.users.auth import Caller


async def create_lead(session: AsyncSession, caller: Caller, body: LeadCreate) -> LeadView:
    _check_organizations(body, caller.organization_id)
    status = await named_status(session, caller.organization_id, body)
    lead = Lead(
        id=new_id("lead"),
        organization_id=caller.organization_id,
        name=body.name,
        description=body.description,
        url=body.url,
        status_label=status or DEFAULT_STATUS,
        addresses=stored_addresses(body.addresses),
        created_by=caller.user_id,
        updated_by=caller.user_id,
    )
    repository.add(session, lead)
    contacts = [new_contact(caller, lead.id, fields) for fields in body.contacts or []]
    await session.flush()
    for contact in contacts:
        contact_repository.add(session, contact)
    await session.flush()
    posted = [item for fields in body.contacts or [] for item in fields.emails or []]
    await unsubscribe_flagged(session, caller, posted)
    view = await _view(session, lead, contacts, no_tasks(utcnow()))
    origin = Origin.of(caller)
    await record(session, origin, lead_change(view, "created", caller.public_url))
    for contact in contacts:
        await record(
            session, origin, contact_change(ContactView(contact, view.unsubscribed), "created")
        )
    return view


def _check_organizations(body: LeadCreate, own: str) -> None:
    """The lead's ``organization_id`` and its nested contacts' (reported under
    ``contacts``) may name the caller's organization only."""
    check_posted_organization(body, own)
    for contact in body.contacts or []:
        if (problem := organization_problem(contact, own)) is not None:
            raise ValidationFailed.field("contacts", problem)


async def _view(
    session: AsyncSession, lead: Lead, contacts: Sequence[Contact], tasks: TaskPage
) -> LeadView:
    return LeadView(
        lead,
        contacts,
        await unsubscribe_service.unsubscribed_of(session, lead.organization_id, contacts),
        tasks,
        await email_repository.user_names(session, lead_user_ids(lead)),
    )


def lead_change(
    view: LeadView, action: str, public_url: str, previous: dict[str, Any] | None = None
) -> Change:
    data = render_lead(view.seen_in_utc(), public_url)
    return Change("lead", action, view.lead.id, view.lead.id, data, previous)


async def get_lead(
    session: AsyncSession, caller: Caller, lead_id: str, locked: bool = False
) -> LeadView:
    lead = await _owned_lead(session, caller, lead_id, locked)
    contacts = await contact_repository.contacts_of_leads(
        session, caller.organization_id, [lead.id]
    )
    tasks = await open_tasks_of_leads(session, caller.organization_id, [lead.id], caller.tz)
    return await _view(session, lead, contacts, tasks)


async def _owned_lead(
    session: AsyncSession, caller: Caller, lead_id: str, locked: bool = False
) -> Lead:
    lead = await repository.get_lead(session, caller.organization_id, lead_id, locked)
    if lead is None:
        raise NotFound("Lead")
    return lead


def check_no_search(query: str | None) -> None:
    """Close's lead search (``query``) is not served. Answering it with every lead would hand a
    script that searches and then acts on the results (a bulk delete, say) the whole
    organization, so a search is refused; a blank one lists as if absent."""
    if query is not None and query.strip():
        raise ValidationFailed.field(
            "query", "Lead search is not supported by Postroom: list without query and filter."
        )


async def list_leads(
    session: AsyncSession, caller: Caller, skip: int, limit: int, query: str | None = None
) -> Sequence[LeadView]:
    check_no_search(query)
    leads = await repository.list_leads(session, caller.organization_id, skip, limit)
    contacts = await contact_repository.contacts_of_leads(
        session, caller.organization_id, [lead.id for lead in leads]
    )
    unsubscribed = await unsubscribe_service.unsubscribed_of(
        session, caller.organization_id, contacts
    )
    tasks = await open_tasks_of_leads(
        session, caller.organization_id, [lead.id for lead in leads], caller.tz
    )
    names = await email_repository.user_names(
        session, {user_id for lead in leads for user_id in lead_user_ids(lead)}
    )
    by_lead = defaultdict(list)
    for contact in contacts:
        by_lead[contact.lead_id].append(contact)
    tasks_by_lead = tasks.by_lead()
    none = replace(tasks, tasks=[])
    return [
        LeadView(lead, by_lead[lead.id], unsubscribed, tasks_by_lead.get(lead.id, none), names)
        for lead in leads
    ]


async def update_lead(
    session: AsyncSession, caller: Caller, lead_id: str, body: LeadUpdate
) -> LeadView:
    current = await get_lead(session, caller, lead_id, locked=True)
    before = render_lead(current.seen_in_utc(), caller.public_url)
    check_posted_organization(body, caller.organization_id)
    lead = current.lead
    new_status = await named_status(session, caller.organization_id, body)
    sent = body.model_fields_set
    for name in ("name", "description", "url"):
        if name in sent:
            setattr(lead, name, getattr(body, name))
    if new_status is not None:
        lead.status_label = new_status
    if "addresses" in sent:
        lead.addresses = stored_addresses(body.addresses)
    if not has_changes(lead):
        return current
    lead.updated_by = caller.user_id
    lead.updated_at = utcnow()
    await session.flush()
    view = await get_lead(session, caller, lead_id)
    await record(
        session, Origin.of(caller), lead_change(view, "updated", caller.public_url, before)
    )
    return view


async def delete_lead(session: AsyncSession, caller: Caller, lead_id: str) -> None:
    """Delete the lead with its emails, threads, tasks and contacts, and record a ``deleted``
    event for each of them (refused, with nothing changed, while one of its emails is being
    sent)."""
    view = await get_lead(session, caller, lead_id, locked=True)
    origin = Origin.of(caller)
    await _record_email_deletions(session, origin, view.lead)
    await _record_thread_deletions(session, origin, view.lead)
    changes = await _deletions(session, view, caller.public_url)
    if await repository.delete_unclaimed_emails(session, view.lead):
        raise ValidationFailed(["An email of this lead is being sent; try again in a moment."])
    await repository.delete_lead(session, view.lead)
    await record_many(session, [(origin, change) for change in changes])


async def _record_email_deletions(session: AsyncSession, origin: Origin, lead: Lead) -> None:
    """The ``deleted`` events of the lead's emails, rendered while they are there and written
    a chunk at a time, so a lead of many emails never has them all in memory (a refused
    deletion rolls them back with the rest)."""
    async for emails in email_repository.emails_of_lead(session, lead.id):
        changes = await event_log.email_deletions(session, emails)
        await record_many(session, [(origin, change) for change in changes])


async def _record_thread_deletions(session: AsyncSession, origin: Origin, lead: Lead) -> None:
    """The ``deleted`` events of the lead's threads, each with the thread as the API shows it
    (its emails included), rendered and written one thread at a time."""
    for thread in await repository.threads_of_lead(session, lead):
        data = await event_log.rendered_thread(session, thread)
        await record(session, origin, event_log.thread_deletion(data))


async def _deletions(session: AsyncSession, view: LeadView, public_url: str) -> list[Change]:
    """The ``deleted`` changes of the rest of what a lead's deletion removes, rendered while it
    is all there: its tasks, its contacts, and the lead last."""
    lead = view.lead
    tasks = await task_repository.tasks_of_lead(session, lead.organization_id, lead.id)
    return [
        *await task_deletions(session, lead.organization_id, tasks),
        *(contact_change(ContactView(c, view.unsubscribed), "deleted") for c in view.contacts),
        lead_change(view, "deleted", public_url),
    ]
