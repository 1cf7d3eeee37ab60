from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from postroom.models.base import Base, IdMixin, TimestampsMixin


def joined_name(first_name: str | None, last_name: str | None) -> str:
    """First and last name, either of which may be empty."""
    return " ".join(part for part in (first_name, last_name) if part)


class User(IdMixin, TimestampsMixin, Base):
    """A person who sends email; belongs to one organization."""

    __tablename__ = "users"

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str] = mapped_column(String(255), default="")
    last_name: Mapped[str] = mapped_column(String(255), default="")

    @property
    def full_name(self) -> str:
        return joined_name(self.first_name, self.last_name)
