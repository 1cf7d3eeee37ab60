from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from postroom.models.base import Base, IdMixin, JSONDocument, TimestampsMixin

CLAIMED = text("claimed_by IS NOT NULL")
"""The lease index holds only the emails a dispatcher holds (a handful against the millions
sent): the recovery's look for expired leases reads it instead of the whole table."""

WAITING_SQL = "status IN ('outbox', 'scheduled') AND claimed_by IS NULL"
"""The emails waiting for a dispatcher: queued (``emails.states.QUEUED``) and not claimed. The
waiting index holds only these, by due time: a claim reads its oldest entries and nothing
else. The claim and the look for the next due time spell their condition as this very text,
which SQLite needs to use a partial index."""
WAITING = text(WAITING_SQL)

FOLLOWUP_PENDING = text("followup_done_at IS NULL AND followup_at IS NOT NULL")
"""The follow-up index holds only the emails with a ``followup_date`` not yet handled (none for
most emails): the dispatcher's look for the next follow-up, every second, reads it instead of
the whole table. Its first column, always null inside it, is what makes SQLite (which keeps no
statistics) prefer it to ``ix_email_activities_due`` for ``status = 'sent'``."""


class EmailActivity(IdMixin, TimestampsMixin, Base):
    """One email message logged against a lead. The row is also the delivery queue entry.

    ``due_at`` is when an ``outbox``/``scheduled`` email should leave; ``claimed_by``,
    ``claimed_at`` and ``lease_expires_at`` are set by the dispatcher's conditional claim,
    and a cancel only succeeds while ``claimed_by`` is null.

    On PostgreSQL the table has ``toast_tuple_target = 4080`` (set by migration
    ``7c2f4a9e6b13``), so a typical email's bodies stay in its row instead of the TOAST table.
    """

    __tablename__ = "email_activities"
    __table_args__ = (
        Index("ix_email_activities_org_created", "organization_id", "created_at", "id"),
        Index("ix_email_activities_org_lead", "organization_id", "lead_id", "created_at", "id"),
        Index(
            "ix_email_activities_waiting", "due_at", sqlite_where=WAITING, postgresql_where=WAITING
        ),
        Index(
            "ix_email_activities_lease",
            "claimed_by",
            "lease_expires_at",
            sqlite_where=CLAIMED,
            postgresql_where=CLAIMED,
        ),
        Index(
            "ix_email_activities_followup",
            "followup_done_at",
            "followup_at",
            sqlite_where=FOLLOWUP_PENDING,
            postgresql_where=FOLLOWUP_PENDING,
        ),
        UniqueConstraint("organization_id", "message_id", name="uq_email_activities_message_id"),
    )

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    contact_id: Mapped[str | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_by: Mapped[str | None] = mapped_column(String(64))

    status: Mapped[str] = mapped_column(String(16))
    activity_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    scheduled_at: Mapped[datetime | None]
    followup_at: Mapped[datetime | None]
    send_in: Mapped[int | None] = mapped_column(Integer)

    sender: Mapped[str | None] = mapped_column(String(1100))
    to_addresses: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    cc_addresses: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    bcc_addresses: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    subject: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    body_preview: Mapped[str | None] = mapped_column(String(200))
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)

    template_id: Mapped[str | None] = mapped_column(String(64))
    template_name: Mapped[str | None] = mapped_column(String(1000))
    thread_id: Mapped[str | None] = mapped_column(String(64), index=True)
    in_reply_to_id: Mapped[str | None] = mapped_column(String(64))
    message_ids: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    message_id: Mapped[str | None] = mapped_column(String(998))
    """The first of ``message_ids``, unique per organization: replies are matched on it and
    logging the same message twice finds the first email instead of creating another."""
    references: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    envelope: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    has_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    opens: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    send_attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)

    email_account_id: Mapped[str | None] = mapped_column(String(64))
    send_as_id: Mapped[str | None] = mapped_column(String(64))
    bulk_email_action_id: Mapped[str | None] = mapped_column(String(64))
    followup_sequence_id: Mapped[str | None] = mapped_column(String(64))
    followup_sequence_delay: Mapped[int | None] = mapped_column(Integer)
    followup_sequence_add_cc_bcc: Mapped[bool] = mapped_column(Boolean, default=False)

    due_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    send_started_at: Mapped[datetime | None]
    """Set, durably, right before the message data goes to the server: a crash after this
    point leaves the delivery unknown (the SMTP sync gap), so the email is never resent."""
    need_smtp_credentials: Mapped[bool] = mapped_column(Boolean, default=False)
    open_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    """Unguessable token of the open-tracking pixel of this email."""
    followup_done_at: Mapped[datetime | None]
    """When the follow-up scheduler handled ``followup_at`` (task made or not needed)."""
