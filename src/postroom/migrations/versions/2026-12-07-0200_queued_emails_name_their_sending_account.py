"""queued emails name their sending account

An email queued (``outbox``, ``scheduled``) without ``email_account_id`` now gets its user's
default account when it is queued, and the dispatcher sends through the account an email names
and looks for no other (``accounts.service.route_for``): an email without one goes through
``POSTROOM_SMTP_URL``. Emails queued by an older Postroom kept ``email_account_id`` null (or
``''``) and relied on the dispatcher finding the user's default account; without this backfill
they would now leave through ``POSTROOM_SMTP_URL`` instead, or fail with ``NoSendingAccount``
where none is set.

The backfill gives each of them the account the older dispatcher would have chosen: the user's
default account, else the user's oldest. An email of a user without an account stays null.
It changes no ``date_updated`` and writes no event: the email does not change, its account
is only written down. The downgrade keeps the values: an older Postroom sends through a named
account just the same.

Revision ID: 44096776410e
Revises: 3a9e5d7c1b42
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "44096776410e"
down_revision: str | None = "3a9e5d7c1b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
UPDATE email_activities
SET email_account_id = (
    SELECT email_accounts.id FROM email_accounts
    WHERE email_accounts.user_id = email_activities.user_id
    ORDER BY email_accounts.is_default DESC, email_accounts.created_at, email_accounts.id
    LIMIT 1
)
WHERE status IN ('outbox', 'scheduled')
  AND (email_account_id IS NULL OR email_account_id = '')
"""


def upgrade() -> None:
    op.execute(BACKFILL)


def downgrade() -> None:
    pass
