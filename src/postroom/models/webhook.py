from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from postroom.models.base import Base, IdMixin, JSONDocument, TimestampsMixin

CLAIMED = text("claimed_by IS NOT NULL")
"""``ix_webhook_deliveries_claimed`` holds only the deliveries being sent: the claim counts each
subscription's from it (``webhooks/repository._with_room``)."""


class WebhookSubscription(IdMixin, TimestampsMixin, Base):
    """Where and which events to deliver; the signature key is stored encrypted."""

    __tablename__ = "webhook_subscriptions"

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    """``{object_type, action}`` pairs, each with its ``extra_filter`` when it has one."""
    event_filter: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    """A filter every delivered event must match too (``events.filters``), or None."""
    verify_ssl: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    signature_key_sealed: Mapped[str] = mapped_column(Text)
    failing_since: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_by: Mapped[str | None] = mapped_column(String(64))


class WebhookDelivery(IdMixin, TimestampsMixin, Base):
    """One event for one subscription: a queue row claimed like an email."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_pair"),
        Index("ix_webhook_deliveries_due", "status", "due_at"),
        Index("ix_webhook_deliveries_subscription_due", "subscription_id", "status", "due_at"),
        Index(
            "ix_webhook_deliveries_claimed",
            "subscription_id",
            "lease_expires_at",
            sqlite_where=CLAIMED,
            postgresql_where=CLAIMED,
        ),
        Index("ix_webhook_deliveries_lease", "claimed_by", "lease_expires_at"),
    )

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    """Indexed as the first column of ``uq_webhook_deliveries_pair`` and of the claim's
    indexes, which also serve the cascade from a deleted subscription."""
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[datetime | None]
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[datetime | None]
