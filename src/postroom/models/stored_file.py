from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from postroom.models.base import Base, IdMixin, TimestampsMixin


class StoredFile(IdMixin, TimestampsMixin, Base):
    """A file uploaded through the Files API; its bytes live in the storage backend.

    ``upload_expires_at``: the upload grant's deadline (60 s). ``uploaded_at``: when the bytes
    arrived. ``expires_at``: when an unreferenced file may be removed (24 h after upload);
    ``referenced_at`` is set once an email or template uses it, which keeps it.
    """

    __tablename__ = "stored_files"
    __table_args__ = (Index("ix_stored_files_expiry", "referenced_at", "expires_at"),)

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(1000))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    upload_expires_at: Mapped[datetime]
    uploaded_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    referenced_at: Mapped[datetime | None]
