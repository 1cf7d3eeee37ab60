"""Loading the bytes of an email's attachments from file storage, right before sending."""

from __future__ import annotations

from typing import Any

from postroom.config import Settings
from postroom.db import Database
from postroom.dispatch.mime_attachments import AttachmentPayload
from postroom.emails.rendering import EmailRecord
from postroom.files import repository as file_repository
from postroom.files.service import file_id_from_url, files_config, read_file_bytes
from postroom.files.storage import StorageError
from postroom.models import StoredFile
from postroom.transports import PermanentDeliveryError


class AttachmentMissing(PermanentDeliveryError):
    error_class = "AttachmentMissing"


async def attachment_payloads(
    database: Database, settings: Settings, email: EmailRecord
) -> list[AttachmentPayload]:
    """The email's attachments with their bytes; ``AttachmentMissing`` when one is gone."""
    if not email.attachments:
        return []
    files = await _stored_files(database, settings, email)
    storage = files_config(settings, settings.max_file_bytes).storage
    payloads = []
    for item, stored in zip(email.attachments, files, strict=True):
        try:
            data = await read_file_bytes(storage, stored)
        except StorageError as error:
            raise AttachmentMissing(f"{item.get('filename')}: the file's bytes are gone") from error
        payloads.append(_payload(item, stored, data))
    return payloads


async def _stored_files(
    database: Database, settings: Settings, email: EmailRecord
) -> list[StoredFile]:
    found = []
    async with database.transaction() as session:
        for item in email.attachments:
            file_id = file_id_from_url(str(item.get("url", "")), settings.public_url)
            stored = file_id and await file_repository.get_file(
                session, email.organization_id, file_id
            )
            if not stored:
                raise AttachmentMissing(f"{item.get('filename')}: the file no longer exists")
            found.append(stored)
    return found


def _payload(item: dict[str, Any], stored: StoredFile, data: bytes) -> AttachmentPayload:
    return AttachmentPayload(
        filename=str(item.get("filename") or stored.filename),
        content_type=str(item.get("content_type") or stored.content_type),
        data=data,
        content_id=item.get("content_id"),
        inline=bool(item.get("inline_only")),
    )
