"""PostgreSQL keeps a typical email's bodies in its row

A row of ``email_activities`` with a 2 KB text + HTML body is about 2.7 KB. PostgreSQL's
default ``toast_tuple_target`` (2,032 bytes) made it compress both bodies and then, the row
still being over the target, move one of them out to the TOAST table: 975,720 of 1,000,000
rows had a value there in the scale benchmark. Every list page of 100 then made 100 TOAST
index lookups and heap reads on top of its 100 row reads, and decompressed 200 bodies. With a
target of half a page (4,080 bytes) such a row stays whole and uncompressed in the table's own
page; a larger one is compressed in place first, and only a body still too big for that goes
out of line.

Measured on the 1M store (the list-by-lead query alone, 600 random leads, the layouts
alternating, rows rewritten as a new insert would write them): p50 15.5 -> 8.5 ms from a cold
cache, 3.1-3.4 -> 1.7-1.9 ms warm. The table with its TOAST grew from 2,203 to 3,061 MB.
SQLite has no such setting; this does nothing there.

The setting applies to rows written from now on; rows already stored keep their layout until
they are rewritten (``VACUUM FULL email_activities``).

Revision ID: 7c2f4a9e6b13
Revises: 4e8b2c9d1f37
Create Date: 2026-12-03 13:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "7c2f4a9e6b13"
down_revision: str | None = "4e8b2c9d1f37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOAST_TUPLE_TARGET = 4080


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE email_activities SET (toast_tuple_target = {TOAST_TUPLE_TARGET})")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE email_activities RESET (toast_tuple_target)")
