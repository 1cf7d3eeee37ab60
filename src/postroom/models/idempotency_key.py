from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from postroom.models.base import Base, IdMixin, JSONDocument, TimestampsMixin


class IdempotencyKey(IdMixin, TimestampsMixin, Base):
    """An ``Idempotency-Key`` seen on a POST: the request's fingerprint and, once it finished,
    the response to replay. Kept 24 h."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("organization_id", "key", name="uq_idempotency_keys_org_key"),
        Index("ix_idempotency_keys_expires", "expires_at"),
    )

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="running")
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    expires_at: Mapped[datetime]
