from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from postroom.models.base import Base, IdMixin, TimestampsMixin


class EmailThread(IdMixin, TimestampsMixin, Base):
    """A conversation: emails of one lead grouped by reply headers or by subject."""

    __tablename__ = "email_threads"
    __table_args__ = (
        Index("ix_email_threads_org_created", "organization_id", "created_at", "id"),
        Index("ix_email_threads_lead_subject", "lead_id", "normalized_subject"),
    )

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    normalized_subject: Mapped[str] = mapped_column(String(1000), default="")
    latest_normalized_subject: Mapped[str] = mapped_column(String(1000), default="")
