"""webhook deliveries lose a redundant index

``ix_webhook_deliveries_subscription_id`` indexed ``subscription_id`` alone, which already
leads ``uq_webhook_deliveries_pair`` and the two indexes the per-subscription claim reads
(``4c8e1b7a9d25``). Every delivery written or claimed paid for one more index entry that no
query needs: a lookup by subscription, the cascade from a deleted subscription included, is
served by the others.

Revision ID: 7d2f4a9c1e60
Revises: 4c8e1b7a9d25
Create Date: 2026-12-07 20:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "7d2f4a9c1e60"
down_revision: str | None = "4c8e1b7a9d25"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "webhook_deliveries"
REDUNDANT = "ix_webhook_deliveries_subscription_id"


def upgrade() -> None:
    op.drop_index(REDUNDANT, table_name=TABLE)


def downgrade() -> None:
    op.create_index(REDUNDANT, TABLE, ["subscription_id"])
