"""the follow-up index holds only pending follow-ups

The dispatcher asks every second (``dispatch_poll_seconds``) when the next follow-up is due:
``min(followup_at)`` of sent emails whose ``followup_done_at`` is null. That is every email
without a ``followup_date`` too, so PostgreSQL answered it with a parallel scan of the whole
table (125 ms on 300,000 emails, on both cores, every second), which showed as the tail of
every request at scale. A partial index of the emails with a follow-up still to handle answers
it from a handful of entries on both engines, and no longer carries one entry per email. Its
columns stay as they were: the leading ``followup_done_at``, null in every entry, is what makes
SQLite, which plans without statistics, prefer it to the ``(status, due_at)`` index.

Revision ID: 4e8b2c9d1f37
Revises: 9d3f1a6c7e20
Create Date: 2026-11-27 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4e8b2c9d1f37"
down_revision: str | None = "9d3f1a6c7e20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_email_activities_followup"
TABLE = "email_activities"
COLUMNS = ["followup_done_at", "followup_at"]
PENDING = sa.text("followup_done_at IS NULL AND followup_at IS NOT NULL")


def upgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    op.create_index(INDEX, TABLE, COLUMNS, sqlite_where=PENDING, postgresql_where=PENDING)


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    op.create_index(INDEX, TABLE, COLUMNS)
