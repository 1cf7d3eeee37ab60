from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from postroom.models.base import Base, IdMixin, TimestampsMixin


class Organization(IdMixin, TimestampsMixin, Base):
    """A tenant: every other row belongs to exactly one organization."""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(255), unique=True)
