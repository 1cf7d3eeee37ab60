from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from postroom.models.base import Base, IdMixin, JSONDocument, TimestampsMixin


class Lead(IdMixin, TimestampsMixin, Base):
    """A company or person being sold to; contacts and emails hang off it."""

    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_org_created", "organization_id", "created_at", "id"),
        Index("ix_leads_org_status", "organization_id", "status_label"),
    )

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str | None] = mapped_column(String(1000))
    description: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    status_label: Mapped[str] = mapped_column(String(255), default="Potential")
    addresses: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_by: Mapped[str | None] = mapped_column(String(64))
