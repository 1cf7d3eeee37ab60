from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from postroom.models.base import Base, IdMixin, TimestampsMixin


class Organization(IdMixin, TimestampsMixin, Base):
    """A tenant: every other row belongs to exactly one organization."""

    __tablename__ = "organizations"

    handle: Mapped[str] = mapped_column("name", String(255), unique=True)
    """The name the organization was created under, unique across the server and never
    changed: ``postroom users create --org NAME`` finds the organization by it. The API never
    shows it once the organization is renamed, so no tenant can learn another's handle or
    take it (docs/decisions.md, Organizations)."""
    display_name: Mapped[str | None] = mapped_column(String(255), default=None)
    """The name given through ``PUT /organization/{id}/``; None until the first rename.
    Not unique: two organizations may share a name."""

    @property
    def name(self) -> str:
        """The name the API shows: the last one given, else the one it was created under."""
        return self.display_name if self.display_name is not None else self.handle
