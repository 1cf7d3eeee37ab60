from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from postroom.models.base import Base, IdMixin, JSONDocument, TimestampsMixin


class Event(IdMixin, TimestampsMixin, Base):
    """One change to one object, written in the same transaction as the change."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_org_created", "organization_id", "created_at", "id"),
        Index("ix_events_created", "created_at"),
    )

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    user_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    api_key_id: Mapped[str | None] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    lead_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    changed_fields: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    previous_data: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
