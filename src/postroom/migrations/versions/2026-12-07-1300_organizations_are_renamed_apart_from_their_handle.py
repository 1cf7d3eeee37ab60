"""organizations are renamed apart from their handle

``PUT /organization/{id}/`` wrote the unique ``organizations.name`` that ``postroom users
create --org NAME`` finds organizations by. A rename to a name another organization had was
a 400 ("Another organization already has this name."), which told any caller which names the
server's other organizations had; and a rename to a name nobody had yet (``Default``, say)
made later ``users create`` runs put their new users, and keys, in the renaming
organization. Now ``name`` stays the organization's handle, unique and never changed, and a
rename writes the new, not unique ``display_name`` that the API shows when it is set.
Existing organizations get none: they show their handle, as before.

Revision ID: 6f2a8c4e1d93
Revises: 3c9e5a7f2b14
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6f2a8c4e1d93"
down_revision: str | None = "3c9e5a7f2b14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """A plain ``ADD COLUMN`` on both engines: SQLite's batch mode would copy the table into a
    new one and drop the old, which every table that belongs to an organization references
    (with ``foreign_keys=ON`` the drop fails, or worse)."""
    op.add_column("organizations", sa.Column("display_name", sa.String(length=255), nullable=True))


def downgrade() -> None:
    """A plain ``DROP COLUMN`` (SQLite 3.35+), for the reason the upgrade gives: the names
    given since are lost, each organization shows its handle again."""
    op.execute("ALTER TABLE organizations DROP COLUMN display_name")
