"""list-by-lead index covers the whole order (created_at, id)

``?lead_id=`` lists order by ``created_at DESC, id DESC``. With the old index
(organization_id, lead_id, created_at) and no table statistics (Postroom never runs
``ANALYZE`` on SQLite), SQLite walked the organization's index in date order and filtered by
lead: 447 ms for a page on 500,000 emails, against 1.1 ms with this index.

Revision ID: 5b0c7e41d2a9
Revises: 89e87edf4dde
Create Date: 2026-11-27 00:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "5b0c7e41d2a9"
down_revision: str | None = "89e87edf4dde"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_email_activities_org_lead"
TABLE = "email_activities"


def upgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    op.create_index(INDEX, TABLE, ["organization_id", "lead_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    op.create_index(INDEX, TABLE, ["organization_id", "lead_id", "created_at"])
