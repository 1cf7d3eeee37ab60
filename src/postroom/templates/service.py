"""Rules about email templates. Never commits.

A template that is not shared is its creator's alone: for anyone else it does not exist (the
repository leaves it out). A shared one is the organization's to read and use, and still its
creator's alone to change or delete.

A subject or body is checked when it is saved (it must compile and may not name private
attributes); everything else the sandbox refuses is refused when rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.contacts import repository as contact_repository
from postroom.emails.attachments import resolve_attachments
from postroom.errors import Forbidden, NotFound, ValidationFailed, with_aliases
from postroom.events.service import Change, Origin, record
from postroom.kit.datetimes import utcnow
from postroom.kit.ids import new_id
from postroom.kit.sql import has_changes
from postroom.kit.tenancy import check_posted_organization
from postroom.leads import repository as lead_repository
from postroom.models import Contact, EmailTemplate, Lead
from postroom.templates import rendering, repository
from postroom.templates.repository import TemplateFilter
from postroom.templates.schemas import (
    EmailTemplateCreate,
    EmailTemplateUpdate,
    TemplatePreview,
    attachment_documents,
    render_email_template,
)
from postroom.users.auth import Caller


async def create_template(
    session: AsyncSession,
    caller: Caller,
    body: EmailTemplateCreate,
    max_attachment_bytes: int | None = None,
) -> EmailTemplate:
    """``max_attachment_bytes``: what an email's attachments may add up to (None: no limit);
    a template whose attachments add up to more could never be sent."""
    check_posted_organization(body, caller.organization_id)
    await rendering.check_in_thread("subject", body.subject)
    await rendering.check_in_thread("body", body.body)
    template = EmailTemplate(
        id=new_id("tmpl"),
        organization_id=caller.organization_id,
        name=body.name,
        subject=body.subject,
        body=body.body,
        is_shared=body.is_shared,
        is_archived=body.is_archived,
        attachments=await resolve_attachments(
            session, caller, attachment_documents(body.attachments), max_attachment_bytes
        ),
        created_by=caller.user_id,
        updated_by=caller.user_id,
    )
    repository.add(session, template)
    await session.flush()
    await _template_event(session, caller, template, "created")
    return template


async def _template_event(
    session: AsyncSession,
    caller: Caller,
    template: EmailTemplate,
    action: str,
    previous: dict[str, Any] | None = None,
) -> None:
    data = render_email_template(template)
    change = Change("email_template", action, template.id, None, data, previous)
    await record(session, Origin.of(caller), change)


async def get_template(
    session: AsyncSession, caller: Caller, template_id: str, locked: bool = False
) -> EmailTemplate:
    template = await repository.get_template(
        session, caller.organization_id, caller.user_id, template_id, locked
    )
    if template is None:
        raise NotFound("EmailTemplate")
    return template


async def _own_template(session: AsyncSession, caller: Caller, template_id: str) -> EmailTemplate:
    """A template the caller may change or delete: one they created."""
    template = await get_template(session, caller, template_id, locked=True)
    if template.created_by != caller.user_id:
        raise Forbidden("Only the user who created an email template may change or delete it.")
    return template


async def list_templates(
    session: AsyncSession, caller: Caller, where: TemplateFilter, skip: int, limit: int
) -> Sequence[EmailTemplate]:
    return await repository.list_templates(
        session, caller.organization_id, caller.user_id, where, skip, limit
    )


async def update_template(
    session: AsyncSession,
    caller: Caller,
    template_id: str,
    body: EmailTemplateUpdate,
    max_attachment_bytes: int | None = None,
) -> EmailTemplate:
    template = await _own_template(session, caller, template_id)
    check_posted_organization(body, caller.organization_id)
    before = render_email_template(template)
    sent = body.model_fields_set
    for part in ("subject", "body"):
        source = getattr(body, part)
        if part in sent and source is not None:
            await rendering.check_in_thread(part, source)
    for name in ("name", "subject", "body", "is_shared", "is_archived"):
        if name in sent:
            setattr(template, name, getattr(body, name))
    if "attachments" in sent:
        items = attachment_documents(body.attachments)
        template.attachments = await resolve_attachments(
            session, caller, items, max_attachment_bytes
        )
    if not has_changes(template):
        return template
    template.updated_by = caller.user_id
    template.updated_at = utcnow()
    await session.flush()
    await _template_event(session, caller, template, "updated", before)
    return template


async def delete_template(session: AsyncSession, caller: Caller, template_id: str) -> None:
    template = await _own_template(session, caller, template_id)
    await repository.delete_template(session, template)
    await _template_event(session, caller, template, "deleted")


async def _lead_for_preview(session: AsyncSession, caller: Caller, lead_id: str) -> Lead:
    lead = await lead_repository.get_lead(session, caller.organization_id, lead_id)
    if lead is None:
        raise ValidationFailed.field("lead_id", "Lead not found.")
    return lead


async def _contact_for_preview(
    session: AsyncSession, caller: Caller, lead: Lead, contact_id: str
) -> Contact:
    contact = await contact_repository.get_contact(session, caller.organization_id, contact_id)
    if contact is None:
        raise ValidationFailed.field("contact_id", "Contact not found.")
    if contact.lead_id != lead.id:
        raise ValidationFailed.field("contact_id", "The contact does not belong to this lead.")
    return contact


@dataclass(frozen=True)
class PreviewTarget:
    """Whom ``render/`` renders for: Close's first form, a lead and one of its contacts. Its
    second form, the results of a search ``query``, is not served."""

    lead_id: str | None
    contact_id: str | None
    query: str | None = None

    def checked(self) -> tuple[str, str]:
        """``(lead_id, contact_id)``; a 400 naming ``query`` when a search is asked for, else
        naming whichever of the two is missing."""
        if self.query is not None and self.query.strip():
            message = "Rendering for a search query is not supported by Postroom: send lead_id "
            raise ValidationFailed.field("query", message + "and contact_id.")
        missing = {
            name: "Field required" for name in ("lead_id", "contact_id") if not getattr(self, name)
        }
        if missing:
            raise ValidationFailed(field_errors=with_aliases(missing))
        return str(self.lead_id), str(self.contact_id)


async def preview_template(
    session: AsyncSession, caller: Caller, template_id: str, target: PreviewTarget
) -> TemplatePreview:
    """Render the template for a contact of a lead, as the caller would send it."""
    lead_id, contact_id = target.checked()
    template = await get_template(session, caller, template_id)
    lead = await _lead_for_preview(session, caller, lead_id)
    contact = await _contact_for_preview(session, caller, lead, contact_id)
    context = await rendering.load_context(
        session, caller.organization_id, caller.user_id, lead, contact
    )
    return TemplatePreview(
        rendered=await rendering.render_in_thread(template.subject, template.body, context),
        email=rendering.first_email(contact),
        contact_id=contact.id,
        contact_display_name=context.contact["display_name"],
        lead_id=lead.id,
        lead_display_name=context.lead["display_name"],
    )
