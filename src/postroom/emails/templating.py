"""Server-side rendering of an email template into an email (Close: ``template_id`` without
``body_text``/``body_html`` renders the template for the email's lead, contact and user).
A template that fails to render, or renders a subject over ``MAX_SUBJECT`` characters, is a
400 on ``template_id``, the field the client sent."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.contacts import repository as contact_repository
from postroom.emails.schemas import MAX_SUBJECT
from postroom.errors import ValidationFailed
from postroom.kit.addresses import bare_address
from postroom.kit.headers import one_line
from postroom.kit.text import html_to_text_part
from postroom.leads import repository as lead_repository
from postroom.models import Contact, EmailActivity, EmailTemplate
from postroom.templates import repository as template_repository
from postroom.templates.rendering import TemplateRejected, render_for

BODY_FIELDS = frozenset({"body_text", "body_html"})


async def apply_template(
    session: AsyncSession,
    email: EmailActivity,
    posted: Collection[str],
    user_id: str,
    replaced_template_id: str | None = None,
) -> None:
    """Name the template on the email and, unless a body was posted, render it in. The
    template must be one ``user_id`` (the caller) may see: shared, or their own. On a draft
    that named ``replaced_template_id`` before, the attachments that came with that template
    go (the new one's come instead; if the caller may not see it, they stay as the draft's
    own); with no template any more, only the name goes."""
    if email.template_id is None:
        email.template_name = None
        return
    template = await _template(session, email.organization_id, user_id, email.template_id)
    if template is None:
        raise ValidationFailed.field("template_id", "Email template not found.")
    email.template_name = template.name
    if not BODY_FIELDS & set(posted):
        await _render_into(session, email, template, "subject" in posted)
        replaced = await _template(session, email.organization_id, user_id, replaced_template_id)
        email.attachments = _with_attachments_of(template, email.attachments, replaced)


async def _template(
    session: AsyncSession, organization_id: str, user_id: str, template_id: str | None
) -> EmailTemplate | None:
    if template_id is None:
        return None
    return await template_repository.get_template(session, organization_id, user_id, template_id)


def _with_attachments_of(
    template: EmailTemplate, attachments: list[dict[str, Any]], replaced: EmailTemplate | None
) -> list[dict[str, Any]]:
    """The email's attachments without those of the template it replaces, then the
    template's own that it does not already carry, each with every field a posted one has."""
    gone = {item["url"] for item in replaced.attachments} if replaced is not None else set()
    kept = [item for item in attachments if item["url"] not in gone]
    carried = {item["url"] for item in kept}
    added = [
        {"content_id": None, "inline_only": False, **item}
        for item in template.attachments
        if item["url"] not in carried
    ]
    return [*kept, *added]


async def _render_into(
    session: AsyncSession, email: EmailActivity, template: EmailTemplate, subject_posted: bool
) -> None:
    lead = await lead_repository.get_lead(session, email.organization_id, email.lead_id)
    if lead is None:
        raise ValidationFailed.field("lead_id", "Lead not found.")
    contact = await _recipient_contact(session, email)
    try:
        rendered = await render_for(
            session, email.organization_id, email.user_id, template, lead, contact
        )
        subject = None if subject_posted else _email_subject(rendered.subject)
    except TemplateRejected as error:
        message = f"The template's {error.part} could not be used: {error.reason}"
        raise ValidationFailed.field("template_id", message) from error
    email.body_html = rendered.body.replace("\x00", "")
    email.body_text = html_to_text_part(email.body_html)
    if subject is not None:
        email.subject = subject


def _email_subject(rendered: str) -> str:
    """A rendered subject as the email's, refused (as the template's fault) if too long."""
    subject = one_line(rendered)
    if len(subject) > MAX_SUBJECT:
        reason = f"The rendered subject is over {MAX_SUBJECT} characters."
        raise TemplateRejected("subject", reason)
    return subject


async def _recipient_contact(session: AsyncSession, email: EmailActivity) -> Contact | None:
    """The email's contact, else the lead's contact whose address is the first recipient."""
    contacts = await contact_repository.contacts_of_leads(
        session, email.organization_id, [email.lead_id]
    )
    if email.contact_id is not None:
        return next((c for c in contacts if c.id == email.contact_id), None)
    if not email.to_addresses:
        return None
    recipient = bare_address(email.to_addresses[0]).lower()
    for contact in contacts:
        if any(str(item.get("email", "")).lower() == recipient for item in contact.emails):
            return contact
    return None
