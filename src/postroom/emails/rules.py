"""Rules that decide whether an email's fields fit its status (Close's §2.1 and §2.2), and
what an update may not change (its lead) or name (itself, or a reply of its own, as parent).

Problems are collected per field, so one 400 names every offending field at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from postroom.emails.schemas import EmailActivityFields, EmailActivityUpdate
from postroom.emails.states import FOLLOWUP_ALLOWED, QUEUED, SENDER_REQUIRED, EmailStatus
from postroom.errors import ValidationFailed, with_aliases
from postroom.kit.datetimes import format_datetime, localize
from postroom.models import EmailActivity

SCHEDULE_TOLERANCE = timedelta(minutes=5)

FIELD_COLUMNS = {
    "contact_id": "contact_id",
    "user_id": "user_id",
    "sender": "sender",
    "to": "to_addresses",
    "cc": "cc_addresses",
    "bcc": "bcc_addresses",
    "subject": "subject",
    "body_text": "body_text",
    "body_html": "body_html",
    "template_id": "template_id",
    "attachments": "attachments",
    "date_scheduled": "scheduled_at",
    "send_in": "send_in",
    "followup_date": "followup_at",
    "followup_sequence_id": "followup_sequence_id",
    "followup_sequence_delay": "followup_sequence_delay",
    "followup_sequence_add_cc_bcc": "followup_sequence_add_cc_bcc",
    "in_reply_to_id": "in_reply_to_id",
    "email_account_id": "email_account_id",
    "account_id": "email_account_id",
    "opens": "opens",
    "activity_at": "activity_at",
}
"""API field name → column of ``EmailActivity``."""

ANNOTATION_FIELDS = frozenset({"opens", "followup_date"})
"""Fields that may change on any email, not only on drafts."""

ACCOUNT_NAMES = frozenset({"email_account_id", "account_id"})
"""The two names of the sending account (``account_id`` is the older one); an empty string
names none."""


class FieldProblems:
    """Collects field errors and raises them together."""

    def __init__(self) -> None:
        self.problems: dict[str, str] = {}

    def add(self, name: str, message: str) -> None:
        self.problems.setdefault(name, message)

    def raise_if_any(self) -> None:
        if self.problems:
            raise ValidationFailed(field_errors=with_aliases(self.problems))


def column_value(body: EmailActivityFields, name: str, tz: timezone | None) -> Any:
    """The value a posted field takes in the row: datetimes in UTC, lists as plain data."""
    value = getattr(body, name)
    if isinstance(value, datetime):
        return localize(value, tz)
    if name == "attachments":
        return [item.model_dump() for item in value or []]
    if name == "opens":
        return [normalized_open(item.model_dump(), tz) for item in value or []]
    if name in {"to", "cc", "bcc"}:
        return list(value or [])
    if name == "followup_sequence_add_cc_bcc":
        return bool(value)
    if name in ACCOUNT_NAMES:
        return body.account or None  # both names posted: the one the account check read
    return value


def normalized_open(item: dict[str, Any], tz: timezone | None) -> dict[str, Any]:
    """An open as stored: what is not known is null (shown as ``""``, so an open posted back
    as read is the same open)."""
    return {
        "opened_at": format_datetime(localize(item["opened_at"], tz)),
        "opened_by": item.get("opened_by") or None,
        "ip_address": item.get("ip_address") or None,
        "user_agent": item.get("user_agent") or None,
    }


def posted_columns(body: EmailActivityFields, tz: timezone | None) -> dict[str, Any]:
    """Every field the client sent, keyed by column."""
    return {
        FIELD_COLUMNS[name]: column_value(body, name, tz)
        for name in body.model_fields_set
        if name in FIELD_COLUMNS
    }


def changed_fields(body: EmailActivityFields, edited: set[str], new_status: bool) -> set[str]:
    """The fields of an update that change the email (their columns in ``edited``), and
    ``status`` if it changes: what ``check_fits_status`` checks. A field posted back
    unchanged, as clients posting a whole object do, is not checked again: the ``send_in`` or
    ``followup_date`` a queued email keeps once cancelled to ``draft`` does not refuse the
    cancel or a later edit, nor does a ``date_scheduled`` now past a later ``followup_date``."""
    changed = {name for name in body.model_fields_set if FIELD_COLUMNS.get(name) in edited}
    return changed | {"status"} if new_status else changed


def check_fits_status(
    email: EmailActivity, posted: set[str], now: datetime, problems: FieldProblems
) -> None:
    """Check the email as it will be stored against the rules of its status. ``posted``: the
    fields that change (a create: every field sent, ``status`` included)."""
    status = EmailStatus(email.status)
    if status in SENDER_REQUIRED and not email.sender:
        problems.add("sender", f"A sender is required for {status.value} emails.")
    if status in QUEUED and "status" in posted and not _has_recipients(email):
        problems.add(
            "to", f"At least one recipient (to, cc or bcc) is required for {status.value} emails."
        )
    if "send_in" in posted and email.send_in is not None and status is not EmailStatus.OUTBOX:
        problems.add("send_in", "send_in is only allowed on outbox emails.")
    if status is EmailStatus.SCHEDULED and posted & {"status", "date_scheduled"}:
        _check_schedule(email, now, problems)
    if status is EmailStatus.OUTBOX and "date_scheduled" in posted and email.scheduled_at:
        problems.add(
            "date_scheduled",
            "An outbox email is sent now (after send_in); use status scheduled to send it at "
            "date_scheduled.",
        )
    if "followup_date" in posted and email.followup_at is not None:
        _check_followup(email, status, problems)


def _has_recipients(email: EmailActivity) -> bool:
    return bool(email.to_addresses or email.cc_addresses or email.bcc_addresses)


def _check_schedule(email: EmailActivity, now: datetime, problems: FieldProblems) -> None:
    if email.scheduled_at is None:
        problems.add("date_scheduled", "date_scheduled is required for scheduled emails.")
    elif email.scheduled_at < now - SCHEDULE_TOLERANCE:
        problems.add(
            "date_scheduled", "date_scheduled may not lie more than 5 minutes in the past."
        )


def _check_followup(email: EmailActivity, status: EmailStatus, problems: FieldProblems) -> None:
    assert email.followup_at is not None  # noqa: S101 - checked by the caller
    if status not in FOLLOWUP_ALLOWED:
        problems.add(
            "followup_date", "followup_date is only allowed on scheduled, outbox and sent emails."
        )
    elif (
        status is EmailStatus.SCHEDULED
        and email.scheduled_at is not None
        and email.followup_at < email.scheduled_at
    ):
        problems.add("followup_date", "followup_date may not be earlier than date_scheduled.")


def check_stays_on_lead(body: EmailActivityUpdate, email: EmailActivity) -> None:
    """An email does not move to another lead (its thread, follow-ups and contact are that
    lead's): a posted ``lead_id`` may only repeat the email's own."""
    if "lead_id" in body.model_fields_set and body.lead_id != email.lead_id:
        raise ValidationFailed.field(
            "lead_id", "An email stays on its lead; lead_id cannot be changed."
        )


def replies_to(parent: EmailActivity, email: EmailActivity) -> bool:
    """``parent`` is ``email`` or one of its replies (its References chain holds ``email``):
    not an email ``email`` may reply to."""
    return parent.id == email.id or (
        email.message_id is not None and email.message_id in parent.references
    )
