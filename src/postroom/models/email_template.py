from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from postroom.models.base import Base, IdMixin, JSONDocument, TimestampsMixin


class EmailTemplate(IdMixin, TimestampsMixin, Base):
    """A reusable email: a subject and an HTML body with sandboxed Jinja2 tags."""

    __tablename__ = "email_templates"
    __table_args__ = (
        Index("ix_email_templates_org_created", "organization_id", "created_at", "id"),
    )

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(1000))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    is_shared: Mapped[bool] = mapped_column(Boolean, default=False)
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_by: Mapped[str | None] = mapped_column(String(64))
