"""webhook subscriptions keep their filter

Close lets a subscription narrow what it receives with an ``event_filter`` (and each of its
events with an ``extra_filter``, kept inside ``events``). Postroom refused both, since it did
not evaluate them; now it does, and a subscription stores its ``event_filter``. Existing
subscriptions get none, which is what they had.

Revision ID: 3c9e5a7f2b14
Revises: 8d4f2b6a1c37
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "3c9e5a7f2b14"
down_revision: str | None = "8d4f2b6a1c37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """A plain ``ADD COLUMN`` on both engines: SQLite's batch mode would copy the table into a
    new one and drop the old, and with ``foreign_keys=ON`` that drop deletes every pending
    delivery (``ON DELETE CASCADE``)."""
    op.add_column(
        "webhook_subscriptions",
        sa.Column(
            "event_filter",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
    )


def downgrade() -> None:
    """A plain ``DROP COLUMN`` (SQLite 3.35+), for the reason the upgrade gives."""
    op.execute("ALTER TABLE webhook_subscriptions DROP COLUMN event_filter")
