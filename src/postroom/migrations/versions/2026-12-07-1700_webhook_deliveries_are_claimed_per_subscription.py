"""webhook deliveries are claimed per subscription

The webhook sender claims at most one delivery per subscription in each claim, the earliest
due of each subscription with room (``webhook_concurrency_per_subscription``), so one
subscription's backlog never fills every slot (``webhooks/repository.claim_due``). Each
subscription's first due delivery is one seek in ``(subscription_id, status, due_at)``; read
from ``ix_webhook_deliveries_due`` it cost a pass over every due delivery, the backlog of a
receiver that never answers included. The deliveries in flight of each subscription are read
from a partial index of the claimed ones (a handful); without it SQLite, which has no table
statistics, read the whole table for them.

Revision ID: 4c8e1b7a9d25
Revises: 9a3d6e2f7c15
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4c8e1b7a9d25"
down_revision: str | None = "9a3d6e2f7c15"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "webhook_deliveries"
DUE = "ix_webhook_deliveries_subscription_due"
CLAIMED_INDEX = "ix_webhook_deliveries_claimed"
CLAIMED = sa.text("claimed_by IS NOT NULL")


def upgrade() -> None:
    op.create_index(DUE, TABLE, ["subscription_id", "status", "due_at"])
    op.create_index(
        CLAIMED_INDEX,
        TABLE,
        ["subscription_id", "lease_expires_at"],
        sqlite_where=CLAIMED,
        postgresql_where=CLAIMED,
    )


def downgrade() -> None:
    op.drop_index(CLAIMED_INDEX, table_name=TABLE)
    op.drop_index(DUE, table_name=TABLE)
