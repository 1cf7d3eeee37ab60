from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from postroom.models.base import Base, IdMixin, JSONDocument, TimestampsMixin


class Contact(IdMixin, TimestampsMixin, Base):
    """A person on a lead, with email addresses ``[{email, type, is_unsubscribed}]``."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_org_created", "organization_id", "created_at", "id"),
        Index("ix_contacts_lead", "lead_id"),
    )

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    name: Mapped[str | None] = mapped_column(String(1000))
    title: Mapped[str | None] = mapped_column(String(1000))
    emails: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    phones: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    urls: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_by: Mapped[str | None] = mapped_column(String(64))
