"""What an email's status and edits bring along on the ORM object: when a queued email is
due, its derived columns, and the claim and timing a newly queued email starts without."""

from __future__ import annotations

from datetime import datetime, timedelta

from postroom.emails.rendering import body_preview
from postroom.emails.states import QUEUED, EmailStatus
from postroom.models import EmailActivity
from postroom.users.auth import Caller


def schedule(email: EmailActivity, now: datetime) -> None:
    """Set when a queued email is due; clear it for every other status."""
    status = EmailStatus(email.status)
    if status is EmailStatus.OUTBOX:
        email.due_at = now + timedelta(seconds=email.send_in or 0)
    elif status is EmailStatus.SCHEDULED:
        email.due_at = email.scheduled_at
    else:
        email.due_at = None


def refresh_derived(email: EmailActivity) -> None:
    email.body_preview = body_preview(email.body_text, email.body_html)


def apply_changes(
    email: EmailActivity,
    changes: dict[str, object],
    target: EmailStatus,
    caller: Caller,
    now: datetime,
) -> None:
    previous = EmailStatus(email.status)
    for column, value in changes.items():
        setattr(email, column, value)
    if "followup_at" in changes:
        email.followup_done_at = None
    email.status = target.value
    if target in QUEUED and previous is not target:
        email.claimed_by = email.claimed_at = email.lease_expires_at = None
        email.attempt_count = 0
        drop_kept_timing(email, target, changes)
        schedule(email, now)
    refresh_derived(email)
    email.updated_by = caller.user_id
    email.updated_at = now


KEPT_TIMING = {EmailStatus.OUTBOX: "scheduled_at", EmailStatus.SCHEDULED: "send_in"}
"""The timing field of the other queue, which an email entering ``outbox``/``scheduled`` may
still hold from before it was cancelled to draft, keyed by the queue it does not apply to."""


def drop_kept_timing(email: EmailActivity, target: EmailStatus, changes: dict[str, object]) -> None:
    """An email queued again shows only the timing it is sent by: a ``date_scheduled`` or
    ``send_in`` kept from the other queue is cleared (one posted anew is a 400 on it)."""
    column = KEPT_TIMING[target]
    if column not in changes:
        setattr(email, column, None)
