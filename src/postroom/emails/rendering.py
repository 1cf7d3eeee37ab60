"""The Email activity as the API shows it: every always-present field, lists never null."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from postroom.emails.states import EmailStatus, direction
from postroom.kit.datetimes import format_datetime
from postroom.kit.text import html_to_text
from postroom.models import EmailActivity


class EmailColumns:
    """An email's column values as attributes, read from its row once (the dispatcher's claimed
    emails): reading one is as fast as reading a local name, ``vars()`` gives them all."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__ = values

    def __getattr__(self, name: str) -> Any:
        """Only reached for a name that is not a column."""
        raise AttributeError(name)


EmailRecord = EmailActivity | Row[Any] | EmailColumns
"""An email as an ORM object, a row of its table (lists) or its column values: the same
attribute names."""
EmailValues = EmailRecord | Mapping[str, Any]
"""Also an email's column values by name (the dispatcher's outcomes)."""

PREVIEW_LENGTH = 200


def body_preview(body_text: str | None, body_html: str | None) -> str | None:
    """The first 200 characters of the text body (derived from the HTML when there is none)."""
    text = body_text
    if not text and body_html:
        text = html_to_text(body_html)
    if not text:
        return "" if body_text is not None or body_html is not None else None
    return " ".join(text.split())[:PREVIEW_LENGTH]


def shown_opens(opens: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each open as the API shows it. Close's schema makes every value of an open a string, so
    what is not known (who opened, from where) is an empty string, not null."""
    return [{key: "" if value is None else value for key, value in item.items()} for item in opens]


def opens_summary(opens: list[dict[str, Any]]) -> str | None:
    """``Opened 3 times, last on 26 Nov 2026 14:03 UTC``; None when never opened."""
    if not opens:
        return None
    last = max(datetime.fromisoformat(item["opened_at"]) for item in opens)
    times = "once" if len(opens) == 1 else f"{len(opens)} times"
    return f"Opened {times}, last on {last.strftime('%d %b %Y %H:%M')} UTC"


COLUMN_KEYS = tuple(column.key for column in EmailActivity.__table__.columns)
COLUMN_KEY_SET = frozenset(COLUMN_KEYS)


def fields_of(email: EmailValues) -> Mapping[Any, Any]:
    """Column values by name: a row's own mapping (ten times faster to read than a row's
    attributes, which matters for a page of 100), or an ORM object's column values."""
    if isinstance(email, Row):
        return email._mapping
    if isinstance(email, EmailActivity):
        return _orm_fields(email)
    if isinstance(email, EmailColumns):
        return vars(email)
    return email


def _orm_fields(email: EmailActivity) -> dict[str, Any]:
    """Read from the object's own dictionary when every column is loaded there (as after an
    insert or a full read): the ORM's attribute descriptors cost several times as much, and a
    new email is rendered three times (its event, its thread's event, the response). A column
    not loaded (expired) is read through its attribute, as the ORM would."""
    loaded = email.__dict__
    if loaded.keys() >= COLUMN_KEY_SET:
        return {key: loaded[key] for key in COLUMN_KEYS}
    return {key: getattr(email, key) for key in COLUMN_KEYS}


STATUS_AND_DIRECTION = {status.value: (status.value, direction(status)) for status in EmailStatus}
"""A stored status's text and direction (a dict lookup: a page made 100 ``EmailStatus``)."""
COPIED_LISTS = ("to", "cc", "bcc", "attachments", "message_ids", "references", "send_attempts")
"""Fields whose lists are copied from an email's values (a page's rows hold their JSON text)."""


def render_email(email: EmailValues, names: Mapping[str, str]) -> dict[str, Any]:
    """The API's object. A page's row (``emails.repository.LISTED_COLUMNS``) brings its JSON
    columns as JSON text that goes out as it is; other emails' lists are copied, so that the
    object shares nothing with the email it shows."""
    document = _document(fields_of(email), names)
    if not isinstance(email, Row):
        for key in COPIED_LISTS:
            document[key] = list(document[key])
    return document


def _document(values: Mapping[Any, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """The API's object of an email's column values, its lists as they are."""
    status, direction_text = STATUS_AND_DIRECTION[values["status"]]
    return {
        "id": values["id"],
        "_type": "Email",
        "organization_id": values["organization_id"],
        "lead_id": values["lead_id"],
        "contact_id": values["contact_id"],
        "user_id": values["user_id"],
        "user_name": names.get(values["user_id"] or ""),
        "users": [values["user_id"]] if values["user_id"] else [],
        "created_by": values["created_by"],
        "created_by_name": names.get(values["created_by"] or ""),
        "updated_by": values["updated_by"],
        "updated_by_name": names.get(values["updated_by"] or ""),
        "date_created": format_datetime(values["created_at"]),
        "date_updated": format_datetime(values["updated_at"]),
        "activity_at": format_datetime(values["activity_at"]),
        "date_sent": format_datetime(values["sent_at"]),
        "date_scheduled": format_datetime(values["scheduled_at"]),
        "followup_date": format_datetime(values["followup_at"]),
        "send_in": values["send_in"],
        "status": status,
        "direction": direction_text,
        "sender": values["sender"],
        "to": values["to_addresses"],
        "cc": values["cc_addresses"],
        "bcc": values["bcc_addresses"],
        "subject": values["subject"],
        "body_text": values["body_text"],
        "body_html": values["body_html"],
        "body_preview": values["body_preview"],
        "attachments": values["attachments"],
        "template_id": values["template_id"],
        "template_name": values["template_name"],
        "thread_id": values["thread_id"],
        "in_reply_to_id": values["in_reply_to_id"],
        "message_ids": values["message_ids"],
        "references": values["references"],
        "envelope": values["envelope"],
        "has_reply": values["has_reply"],
        "need_smtp_credentials": values["need_smtp_credentials"],
        "email_account_id": values["email_account_id"],
        "send_as_id": values["send_as_id"],
        "bulk_email_action_id": values["bulk_email_action_id"],
        "followup_sequence_id": values["followup_sequence_id"],
        "followup_sequence_delay": values["followup_sequence_delay"],
        "followup_sequence_add_cc_bcc": values["followup_sequence_add_cc_bcc"],
        "opens": shown_opens(values["opens"]),
        "opens_summary": opens_summary(values["opens"]),
        "send_attempts": values["send_attempts"],
        "sequence_id": None,
        "sequence_name": None,
        "sequence_subscription_id": None,
    }


def user_ids_of(email: EmailValues) -> set[str]:
    return user_ids_of_all((email,))


def user_ids_of_all(emails: Iterable[EmailValues]) -> set[str]:
    """The users the emails name (a page: 100 emails, mostly one user)."""
    ids: set[str | None] = set()
    for email in emails:
        if isinstance(email, EmailActivity):
            ids.update((email.user_id, email.created_by, email.updated_by))
        else:
            values = fields_of(email)
            ids.update((values["user_id"], values["created_by"], values["updated_by"]))
    return {uid for uid in ids if uid}
