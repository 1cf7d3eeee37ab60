"""unsubscribed emails: the organization's unsubscribe list

``/unsubscribe/email/`` keeps one row per organization and lower-case address. A contact
email's ``is_unsubscribed`` is no longer stored on the contact: it is read from this list, so
unsubscribing an address shows on every contact that has it.

The backfill moves what older Postroom versions stored: every contact email stored with
``is_unsubscribed: true`` puts its address (lower-case, once per organization) on the list,
dated now and with no ``created_by`` (when it was unsubscribed was not recorded). It writes no
event, as no one changed anything. Contacts keep the stored flags, which nothing reads any
more. The downgrade drops the list: addresses unsubscribed since the upgrade are lost, and
contacts show the flags they had before it.

Revision ID: 5b1e7c3a9d20
Revises: 44096776410e
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import postroom.kit.datetimes
from postroom.kit.datetimes import utcnow
from postroom.kit.ids import new_id

revision: str = "5b1e7c3a9d20"
down_revision: str | None = "44096776410e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTACTS = sa.table(
    "contacts",
    sa.column("organization_id", sa.String()),
    sa.column("emails", sa.JSON()),
)
UNSUBSCRIBED = sa.table(
    "unsubscribed_emails",
    sa.column("id", sa.String()),
    sa.column("organization_id", sa.String()),
    sa.column("email", sa.String()),
    sa.column("created_by", sa.String()),
    sa.column("created_at", postroom.kit.datetimes.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "unsubscribed_emails",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", postroom.kit.datetimes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_unsubscribed_emails_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unsubscribed_emails")),
        sa.UniqueConstraint("organization_id", "email", name="uq_unsubscribed_emails_org_email"),
    )
    with op.batch_alter_table("unsubscribed_emails", schema=None) as batch_op:
        batch_op.create_index(
            "ix_unsubscribed_emails_org_created",
            ["organization_id", "created_at", "id"],
            unique=False,
        )
    backfill()


def flagged_addresses(rows: Sequence[Any]) -> Iterator[tuple[str, str]]:
    """(organization id, lower-case address) of every contact email flagged unsubscribed."""
    for organization_id, emails in rows:
        for item in emails or []:
            if isinstance(item, dict) and item.get("is_unsubscribed") is True:
                yield organization_id, str(item.get("email", "")).lower()


def backfill() -> None:
    connection = op.get_bind()
    # Only rows with a ``true`` somewhere can hold a flag; the check itself is in Python.
    candidates = sa.select(CONTACTS.c.organization_id, CONTACTS.c.emails).where(
        sa.cast(CONTACTS.c.emails, sa.Text).like("%true%")
    )
    pairs = sorted(set(flagged_addresses(connection.execute(candidates).all())))
    now = utcnow()
    rows = [
        {"id": new_id("unsub"), "organization_id": organization_id, "email": email,
         "created_by": None, "created_at": now}
        for organization_id, email in pairs if email
    ]  # fmt: skip
    if rows:
        connection.execute(sa.insert(UNSUBSCRIBED), rows)


def downgrade() -> None:
    with op.batch_alter_table("unsubscribed_emails", schema=None) as batch_op:
        batch_op.drop_index("ix_unsubscribed_emails_org_created")

    op.drop_table("unsubscribed_emails")
