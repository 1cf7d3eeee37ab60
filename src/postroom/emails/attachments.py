"""Attachments of emails: each item must name a file uploaded to this organization through
the Files API (by its download URL, with the right size); Postroom never fetches a URL it did
not issue."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.errors import ValidationFailed
from postroom.files.service import mark_referenced, resolve_attachment
from postroom.models import StoredFile
from postroom.users.auth import Caller


async def resolve_attachments(
    session: AsyncSession,
    caller: Caller,
    items: list[dict[str, Any]],
    max_total_bytes: int | None = None,
) -> list[dict[str, Any]]:
    """Check every item, keep the files referenced, and fill in missing content types and
    sizes (a template's attachment may be posted without a size; an email's must have one).
    ``max_total_bytes`` (None: no limit) bounds the sum of the files' sizes."""
    resolved: list[tuple[dict[str, Any], StoredFile]] = []
    for item in items:
        stored = await resolve_attachment(
            session, caller.organization_id, item["url"], item["size"], caller.public_url
        )
        resolved.append((item, stored))
    total = sum(stored.size or 0 for _item, stored in resolved)
    if max_total_bytes is not None and total > max_total_bytes:
        message = f"Attachments add up to {total} bytes; the limit is {max_total_bytes}."
        raise ValidationFailed.field("attachments", message)
    await mark_referenced(session, [stored for _item, stored in resolved])
    return [_completed(item, stored) for item, stored in resolved]


def _completed(item: dict[str, Any], stored: StoredFile) -> dict[str, Any]:
    """The item with the uploaded file's content type and size where it has none (a size
    given was checked against the file's)."""
    content_type = item.get("content_type") or stored.content_type
    size = stored.size if item.get("size") is None else item["size"]
    return {**item, "content_type": content_type, "size": size}
