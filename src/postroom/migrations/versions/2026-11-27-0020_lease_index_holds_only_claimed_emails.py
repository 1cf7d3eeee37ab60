"""the lease index holds only claimed emails

The dispatcher's recovery looks every few seconds for expired leases
(``claimed_by IS NOT NULL AND lease_expires_at < now``). SQLite, without table statistics,
read the whole table for it (678 ms on 500,000 emails, every lease / 3 seconds, holding the
one connection). A partial index of the claimed emails answers it from a handful of entries on
both engines, and no longer carries one entry per unclaimed email.

Revision ID: 9d3f1a6c7e20
Revises: 5b0c7e41d2a9
Create Date: 2026-11-27 00:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9d3f1a6c7e20"
down_revision: str | None = "5b0c7e41d2a9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_email_activities_lease"
TABLE = "email_activities"
COLUMNS = ["claimed_by", "lease_expires_at"]
CLAIMED = sa.text("claimed_by IS NOT NULL")


def upgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    op.create_index(INDEX, TABLE, COLUMNS, sqlite_where=CLAIMED, postgresql_where=CLAIMED)


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    op.create_index(INDEX, TABLE, COLUMNS)
