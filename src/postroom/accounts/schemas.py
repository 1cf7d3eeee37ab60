"""Sending accounts as Close shows connected accounts (never with a password)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from postroom.kit.datetimes import format_datetime
from postroom.kit.schemas import RequestModel
from postroom.models import EmailAccount


class SmtpOut(BaseModel):
    host: str
    port: int
    use_ssl: bool
    username: str | None


class ConnectedAccount(BaseModel):
    id: str
    type_: str = "custom_email"
    email: str
    user_id: str
    smtp: SmtpOut
    send_status: str
    latest_send_error: str | None


class ConnectedAccountList(BaseModel):
    data: list[ConnectedAccount]
    has_more: bool


class ConnectedAccountListQuery(RequestModel):
    """``user_id``: only that user's accounts (Close's one filter of this list)."""

    user_id: str | None = Field(default=None, max_length=64)


def render_account(account: EmailAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "_type": "custom_email",
        "organization_id": account.organization_id,
        "user_id": account.user_id,
        "email": account.email,
        "identities": [{"email": account.email}],
        "smtp": {
            "host": account.smtp_host,
            "port": account.smtp_port,
            "use_ssl": account.smtp_security == "tls",
            "use_starttls": account.smtp_security == "starttls",
            "username": account.smtp_username,
        },
        "is_default": account.is_default,
        "send_status": account.send_status,
        "latest_send_error": account.latest_send_error,
        "date_created": format_datetime(account.created_at),
        "date_updated": format_datetime(account.updated_at),
    }
