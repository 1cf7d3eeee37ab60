"""The lead's own events when one of its contacts is created or deleted.

Close's list of event types: a lead is ``created`` "regardless of the method" (so also when a
contact posted without ``lead_id`` makes one), and ``updated`` when "a contact is added or
removed (the ``contact_ids`` list of the lead changes)"; an update of an existing contact is
no lead event. The lead's ``date_updated`` and ``updated_by`` say it changed, as its event does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.contacts import repository
from postroom.emails import repository as email_repository
from postroom.events.service import Change
from postroom.kit.datetimes import utcnow
from postroom.leads.schemas import LeadView, lead_user_ids, render_lead
from postroom.models import Lead
from postroom.tasks.service import open_tasks_of_leads
from postroom.unsubscribes import service as unsubscribe_service
from postroom.users.auth import Caller

LEAD = "lead"


async def rendered_lead(session: AsyncSession, caller: Caller, lead: Lead) -> dict[str, Any]:
    """The lead as ``GET /lead/{id}/`` shows it now, its contacts and open tasks included
    (their ``view`` as seen in UTC, as in every event)."""
    contacts = await repository.contacts_of_leads(session, lead.organization_id, [lead.id])
    unsubscribed = await unsubscribe_service.unsubscribed_of(
        session, lead.organization_id, contacts
    )
    tasks = await open_tasks_of_leads(session, lead.organization_id, [lead.id], None)
    names = await email_repository.user_names(session, lead_user_ids(lead))
    return render_lead(LeadView(lead, contacts, unsubscribed, tasks, names), caller.public_url)


async def lead_created(session: AsyncSession, caller: Caller, lead: Lead) -> Change:
    data = await rendered_lead(session, caller, lead)
    return Change(LEAD, "created", lead.id, lead.id, data)


async def contacts_changed(
    session: AsyncSession, caller: Caller, lead: Lead, before: dict[str, Any]
) -> Change:
    """The lead's ``updated`` change once a contact was added or removed; ``before``: the lead
    as ``rendered_lead`` showed it before."""
    lead.updated_at, lead.updated_by = utcnow(), caller.user_id
    await session.flush()
    data = await rendered_lead(session, caller, lead)
    return Change(LEAD, "updated", lead.id, lead.id, data, before)
