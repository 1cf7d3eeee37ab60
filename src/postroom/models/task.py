from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from postroom.models.base import Base, IdMixin, TimestampsMixin


class Task(IdMixin, TimestampsMixin, Base):
    """A lead task (``task_…``, made through the API) or a system task such as an email
    follow-up (``noti_…``). At most one follow-up task exists per email (unique constraint)."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_org_created", "organization_id", "created_at", "id"),
        UniqueConstraint("email_id", "task_type", name="uq_tasks_email_type"),
    )

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    task_type: Mapped[str] = mapped_column(String(32))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    assigned_to: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None]
    is_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    email_id: Mapped[str | None] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(Text)
    body_preview: Mapped[str | None] = mapped_column(String(200))
    view: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_by: Mapped[str | None] = mapped_column(String(64))
