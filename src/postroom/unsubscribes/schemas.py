"""The unsubscribe list as the API shows it, and the body that adds an address to it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from postroom.kit.addresses import normalized_address
from postroom.kit.datetimes import format_datetime
from postroom.kit.schemas import RequestModel
from postroom.models import UnsubscribedEmail

MAX_EMAIL = 500
"""Close's limit on the posted ``email``."""


class UnsubscribedEmailCreate(RequestModel):
    """An address checked as every address in Postroom, kept bare and lower-case."""

    email: str = Field(max_length=MAX_EMAIL)

    @field_validator("email")
    @classmethod
    def _normalized(cls, value: str) -> str:
        return normalized_address(value)


class UnsubscribedEmailOut(BaseModel):
    """One address on the list (documentation only; responses come from ``render``)."""

    id: str
    email: str
    organization_id: str
    created_by: str | None
    date_created: str


class UnsubscribedEmailList(BaseModel):
    data: list[UnsubscribedEmailOut]
    has_more: bool


def render_unsubscribed_email(row: UnsubscribedEmail) -> dict[str, Any]:
    return {
        "id": row.id,
        "email": row.email,
        "organization_id": row.organization_id,
        "created_by": row.created_by,
        "date_created": format_datetime(row.created_at),
    }
