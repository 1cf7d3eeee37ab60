"""Email threads as the API shows them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Any

from pydantic import BaseModel

from postroom.emails.rendering import render_email
from postroom.emails.schemas import EmailActivity
from postroom.kit.datetimes import format_datetime
from postroom.models import EmailActivity as EmailRow
from postroom.models import EmailThread
from postroom.threads.subjects import display_subject


@dataclass(frozen=True)
class ThreadView:
    """A thread with its emails, oldest first."""

    thread: EmailThread
    emails: Sequence[EmailRow]


class EmailThreadOut(BaseModel):
    id: str
    organization_id: str
    lead_id: str
    contact_id: str | None
    emails: list[EmailActivity]
    n_emails: int
    latest_normalized_subject: str
    participants: list[dict[str, str]]
    date_created: str
    date_updated: str


class EmailThreadList(BaseModel):
    data: list[EmailThreadOut]
    has_more: bool


def participants(emails: list[EmailRow] | Any) -> list[dict[str, str]]:
    """Every address of the thread's senders, ``to`` and ``cc`` once, in lower case, in the
    order first seen, with the first display name any of its emails gives it ("" for none)."""
    seen: dict[str, dict[str, str]] = {}
    for email in emails:
        values = [email.sender or "", *email.to_addresses, *email.cc_addresses]
        for name, address in getaddresses(values):
            if not address:
                continue
            key = address.lower()
            participant = seen.setdefault(key, {"email": key, "name": name})
            participant["name"] = participant["name"] or name
    return list(seen.values())


def latest_normalized_subject(view: ThreadView) -> str:
    """The normalized subject of the thread's latest email (its emails are oldest first), so
    an edited or deleted email does not leave its subject behind."""
    if not view.emails:
        return view.thread.latest_normalized_subject
    return display_subject(view.emails[-1].subject)


def render_thread(view: ThreadView, names: Mapping[str, str]) -> dict[str, Any]:
    thread, emails = view.thread, view.emails
    latest = max((email.activity_at for email in emails if email.activity_at), default=None)
    return {
        "id": thread.id,
        "_type": "EmailThread",
        "organization_id": thread.organization_id,
        "lead_id": thread.lead_id,
        "contact_id": thread.contact_id,
        "emails": [render_email(email, names) for email in emails],
        "n_emails": len(emails),
        "latest_normalized_subject": latest_normalized_subject(view),
        "participants": participants(emails),
        "activity_at": format_datetime(latest),
        "date_created": format_datetime(thread.created_at),
        "date_updated": format_datetime(thread.updated_at),
    }
