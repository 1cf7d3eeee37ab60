"""leads are found by status

The organization's lead statuses (``GET /organization/{id}/`` shows them as
``lead_statuses``; a posted ``status_id`` is checked against them) are the labels its leads
have. Read from ``ix_leads_org_created`` they cost a pass over every lead of the organization
and a sort; with ``(organization_id, status_label)`` each label is one index seek
(``leads/repository.status_labels``).

Revision ID: 9a3d6e2f7c15
Revises: 6f2a8c4e1d93
Create Date: 2026-12-07 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "9a3d6e2f7c15"
down_revision: str | None = "6f2a8c4e1d93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_leads_org_status"
TABLE = "leads"


def upgrade() -> None:
    op.create_index(INDEX, TABLE, ["organization_id", "status_label"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
