"""The Email activity as the API shows it: every always-present field, lists never null."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from postroom.emails.states import EmailStatus, direction
from postroom.kit.datetimes import format_datetime
from postroom.kit.text import html_to_text
from postroom.models import EmailActivity

PREVIEW_LENGTH = 200


def body_preview(body_text: str | None, body_html: str | None) -> str | None:
    """The first 200 characters of the text body (derived from the HTML when there is none)."""
    text = body_text
    if not text and body_html:
        text = html_to_text(body_html)
    if not text:
        return "" if body_text is not None or body_html is not None else None
    return " ".join(text.split())[:PREVIEW_LENGTH]


def opens_summary(opens: list[dict[str, Any]]) -> str | None:
    """``Opened 3 times, last on 26 Nov 2026 14:03 UTC``; None when never opened."""
    if not opens:
        return None
    last = max(datetime.fromisoformat(item["opened_at"]) for item in opens)
    times = "once" if len(opens) == 1 else f"{len(opens)} times"
    return f"Opened {times}, last on {last.strftime('%d %b %Y %H:%M')} UTC"


def render_email(email: EmailActivity, names: Mapping[str, str]) -> dict[str, Any]:
    status = EmailStatus(email.status)
    return {
        "id": email.id,
        "_type": "Email",
        "organization_id": email.organization_id,
        "lead_id": email.lead_id,
        "contact_id": email.contact_id,
        "user_id": email.user_id,
        "user_name": names.get(email.user_id or ""),
        "users": [email.user_id] if email.user_id else [],
        "created_by": email.created_by,
        "created_by_name": names.get(email.created_by or ""),
        "updated_by": email.updated_by,
        "updated_by_name": names.get(email.updated_by or ""),
        "date_created": format_datetime(email.created_at),
        "date_updated": format_datetime(email.updated_at),
        "activity_at": format_datetime(email.activity_at),
        "date_sent": format_datetime(email.sent_at),
        "date_scheduled": format_datetime(email.scheduled_at),
        "followup_date": format_datetime(email.followup_at),
        "send_in": email.send_in,
        "status": status.value,
        "direction": direction(status),
        "sender": email.sender,
        "to": list(email.to_addresses),
        "cc": list(email.cc_addresses),
        "bcc": list(email.bcc_addresses),
        "subject": email.subject,
        "body_text": email.body_text,
        "body_html": email.body_html,
        "body_preview": email.body_preview,
        "attachments": list(email.attachments),
        "template_id": email.template_id,
        "template_name": email.template_name,
        "thread_id": email.thread_id,
        "in_reply_to_id": email.in_reply_to_id,
        "message_ids": list(email.message_ids),
        "references": list(email.references),
        "envelope": email.envelope,
        "has_reply": email.has_reply,
        "need_smtp_credentials": email.need_smtp_credentials,
        "email_account_id": email.email_account_id,
        "send_as_id": email.send_as_id,
        "bulk_email_action_id": email.bulk_email_action_id,
        "followup_sequence_id": email.followup_sequence_id,
        "followup_sequence_delay": email.followup_sequence_delay,
        "followup_sequence_add_cc_bcc": email.followup_sequence_add_cc_bcc,
        "opens": list(email.opens),
        "opens_summary": opens_summary(email.opens),
        "send_attempts": list(email.send_attempts),
        "sequence_id": None,
        "sequence_name": None,
        "sequence_subscription_id": None,
    }


def user_ids_of(email: EmailActivity) -> set[str]:
    return {uid for uid in (email.user_id, email.created_by, email.updated_by) if uid}
