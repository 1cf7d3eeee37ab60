"""Open tracking: a 1×1 GIF per sent HTML email; each fetch records an open.

Repeats from the same IP address and user agent within 60 seconds count once. An unknown
token records nothing (and gets the same GIF, so tokens cannot be probed). An open is a
change of the email: it records an ``activity.email`` ``updated`` event (no user, no request).
An email keeps at most ``MAX_OPENS`` opens, each value cut to what the API takes, so the email
read back can be put back whole, and a pixel fetched in a loop with ever new user agents cannot
grow its row without end.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from email.utils import getaddresses
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.emails import event_log
from postroom.emails.schemas import MAX_IP_ADDRESS, MAX_OPENED_BY, MAX_OPENS, MAX_USER_AGENT
from postroom.events.service import Origin, record_many
from postroom.kit.datetimes import format_datetime
from postroom.models import EmailActivity
from postroom.tracking import repository

PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
REPEAT_WINDOW = timedelta(seconds=60)
TOKEN_BYTES = 24


def new_open_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def pixel_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/t/o/{token}.gif"


def _single_recipient(email: EmailActivity) -> str | None:
    recipients = getaddresses([*email.to_addresses, *email.cc_addresses, *email.bcc_addresses])
    addresses = {address for _name, address in recipients if address}
    return addresses.pop() if len(addresses) == 1 else None


def _is_repeat(
    opens: list[dict[str, Any]], ip: str | None, agent: str | None, now: datetime
) -> bool:
    for item in reversed(opens):
        if item.get("ip_address") == ip and item.get("user_agent") == agent:
            opened_at = datetime.fromisoformat(item["opened_at"])
            return now - opened_at < REPEAT_WINDOW
    return False


async def record_open(
    session: AsyncSession, token: str, ip: str | None, agent: str | None, now: datetime
) -> bool:
    """Record one open of the email with ``token``; False when unknown or a repeat."""
    email = await repository.email_by_open_token(session, token)
    if email is None or len(email.opens) >= MAX_OPENS:
        return False
    ip, agent = _cut(ip, MAX_IP_ADDRESS), _cut(agent, MAX_USER_AGENT)
    if _is_repeat(email.opens, ip, agent, now):
        return False
    before = await event_log.rendered_emails(session, [email])
    email.updated_at = now
    email.opens = [
        *email.opens,
        {
            "opened_at": format_datetime(now),
            "opened_by": _cut(_single_recipient(email), MAX_OPENED_BY),
            "ip_address": ip,
            "user_agent": agent,
        },
    ]
    await session.flush()
    changes = await event_log.email_updates(session, [email], before)
    await record_many(session, [(Origin(email.organization_id), change) for change in changes])
    return True


def _cut(value: str | None, limit: int) -> str | None:
    return None if value is None else value[:limit]
