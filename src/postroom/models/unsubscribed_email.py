from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from postroom.kit.datetimes import utcnow
from postroom.models.base import Base, IdMixin


class UnsubscribedEmail(IdMixin, Base):
    """An address on its organization's unsubscribe list, lower-case, at most once per
    organization. Rows are never changed: resubscribing deletes the row."""

    __tablename__ = "unsubscribed_emails"
    __table_args__ = (
        UniqueConstraint("organization_id", "email", name="uq_unsubscribed_emails_org_email"),
        Index("ix_unsubscribed_emails_org_created", "organization_id", "created_at", "id"),
    )

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    email: Mapped[str] = mapped_column(String(320))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
