"""leads keep their addresses

Close lets addresses be nested in a lead (``addresses``: ``[{label, address_1, address_2,
city, state, zipcode, country}]``); Postroom showed ``[]`` and dropped what was posted. Each
lead now stores its list, as JSON. Existing leads get ``[]``, which is what they showed. The
downgrade drops the column and the addresses posted since the upgrade.

Revision ID: 8d4f2b6a1c37
Revises: 5b1e7c3a9d20
Create Date: 2026-12-07 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "8d4f2b6a1c37"
down_revision: str | None = "5b1e7c3a9d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """A plain ``ADD COLUMN`` on both engines: SQLite's batch mode would copy ``leads`` into a
    new table and drop the old one, and with ``foreign_keys=ON`` that drop deletes every
    contact (``ON DELETE CASCADE``)."""
    op.add_column(
        "leads",
        sa.Column(
            "addresses",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            server_default=sa.text("'[]'"),
        ),
    )


def downgrade() -> None:
    """A plain ``DROP COLUMN`` (SQLite 3.35+), for the reason the upgrade gives."""
    op.execute("ALTER TABLE leads DROP COLUMN addresses")
