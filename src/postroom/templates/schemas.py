"""Email templates: request bodies, the response shape and the rendered preview."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, field_validator

from postroom.emails.schemas import media_type_or_empty
from postroom.kit.datetimes import format_datetime
from postroom.kit.schemas import Boolean, Integer, RequestModel
from postroom.kit.tenancy import PostedOrganization
from postroom.models import EmailTemplate
from postroom.templates.rendering import RenderedTemplate

MAX_NAME = 1000
MAX_SUBJECT = 1000
MAX_BODY = 1_048_576
MAX_ATTACHMENTS = 1000


class TemplateAttachment(RequestModel):
    """Stored and returned as given, once checked as an email's attachment is."""

    _content_type = field_validator("content_type")(media_type_or_empty)

    url: str = Field(max_length=2000)
    filename: str = Field(max_length=1000)
    content_type: str | None = Field(default=None, max_length=255)
    size: Integer | None = Field(default=None, ge=0)


class EmailTemplateCreate(PostedOrganization):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    subject: str = Field(max_length=MAX_SUBJECT)
    body: str = Field(max_length=MAX_BODY)
    is_shared: Boolean = False
    is_archived: Boolean = False
    attachments: list[TemplateAttachment] | None = Field(default=None, max_length=MAX_ATTACHMENTS)


class EmailTemplateUpdate(PostedOrganization):
    """PUT behaves as PATCH: only the fields sent change; none of them may be null."""

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    subject: str | None = Field(default=None, max_length=MAX_SUBJECT)
    body: str | None = Field(default=None, max_length=MAX_BODY)
    is_shared: Boolean | None = None
    is_archived: Boolean | None = None
    attachments: list[TemplateAttachment] | None = Field(default=None, max_length=MAX_ATTACHMENTS)

    @field_validator("name", "subject", "body", "is_shared", "is_archived")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("This field may not be null.")
        return value


class EmailTemplateOut(BaseModel):
    id: str
    organization_id: str
    name: str
    subject: str
    body: str
    is_shared: bool
    is_archived: bool
    attachments: list[dict[str, Any]]
    created_by: str | None
    updated_by: str | None
    date_created: str
    date_updated: str


class EmailTemplateList(BaseModel):
    data: list[EmailTemplateOut]
    has_more: bool


class RenderedEmailTemplate(BaseModel):
    subject: str
    body: str
    email: str | None
    contact_id: str | None
    contact_display_name: str | None
    lead_id: str
    lead_display_name: str


@dataclass(frozen=True)
class TemplatePreview:
    """A template rendered for one lead and contact, with what the response names."""

    rendered: RenderedTemplate
    email: str | None
    contact_id: str | None
    contact_display_name: str | None
    lead_id: str
    lead_display_name: str


def attachment_documents(attachments: list[TemplateAttachment] | None) -> list[dict[str, Any]]:
    return [item.model_dump() for item in attachments or []]


def render_email_template(template: EmailTemplate) -> dict[str, Any]:
    return {
        "id": template.id,
        "organization_id": template.organization_id,
        "name": template.name,
        "subject": template.subject,
        "body": template.body,
        "is_shared": template.is_shared,
        "is_archived": template.is_archived,
        "attachments": list(template.attachments),
        "created_by": template.created_by,
        "updated_by": template.updated_by,
        "date_created": format_datetime(template.created_at),
        "date_updated": format_datetime(template.updated_at),
    }


def render_preview(preview: TemplatePreview) -> dict[str, Any]:
    return {
        "subject": preview.rendered.subject,
        "body": preview.rendered.body,
        "email": preview.email,
        "contact_id": preview.contact_id,
        "contact_display_name": preview.contact_display_name,
        "lead_id": preview.lead_id,
        "lead_display_name": preview.lead_display_name,
    }
