"""Rules about files: upload grants, signed uploads, downloads, attachments, expiry. Never commits.

The flow is S3's pre-signed POST: ``POST /files/upload/`` creates a ``StoredFile`` row and hands
out form ``fields`` (``key`` = file id, ``expires`` = unix time, ``signature`` = HMAC-SHA256 of
both, keyed by the server secret). The upload itself carries no API key: the signature is the
authorization. It must start within ``UPLOAD_WINDOW``; each grant is used once. Anyone may send
an upload, so ``receive_upload`` checks the URL, the grant's fields (which come before the file
in the form) and the grant's row before it reads the file's bytes. The bytes go to
a fresh storage key first and the row is switched to it by one conditional UPDATE, so two racing
uploads of one grant can never overwrite each other's bytes, and SQLite's single connection is
not held while bytes are written.

An uploaded file is usable for ``FILE_LIFETIME``; once an email or template references it
(``mark_referenced``) it is kept. ``remove_expired_files`` deletes the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from postroom.config import Settings
from postroom.errors import Forbidden, NotFound, ValidationFailed
from postroom.files import repository
from postroom.files.schemas import FileDownload, FileUploadCreate, UploadGrant
from postroom.files.storage import (
    FileStorage,
    FileTooLarge,
    LocalDiskStorage,
    MissingFile,
    new_storage_key,
)
from postroom.kit.datetimes import utcnow
from postroom.kit.ids import new_id
from postroom.kit.secrets import load_or_create_secret
from postroom.models import StoredFile
from postroom.users.auth import Caller

MAX_FILE_BYTES = 25 * 1024 * 1024
"""Gmail's limit; ``files_config(..., max_file_bytes=...)`` changes it."""
UPLOAD_WINDOW = timedelta(seconds=60)
FILE_LIFETIME = timedelta(hours=24)
UNUSED_GRANT_GRACE = timedelta(hours=1)
"""Grants never used are removed this long after their deadline (an upload may still run)."""
UPLOAD_PATH = "/api/v1/files/upload/"
DOWNLOAD_PATH = "/go/file/"
URL_NAME_LENGTH = 240
"""Characters of a download URL's name part, at most (``url_name``)."""
ATTACHMENTS = "attachments"

_FILE_ID = re.compile(r"^file_[A-Za-z0-9]{1,59}$")
_UNIX_TIME = re.compile(r"^[0-9]{1,12}$")


@dataclass(frozen=True)
class FilesConfig:
    """What the Files API needs: where bytes live, the upload signing key, URLs, the limit."""

    storage: FileStorage
    signing_key: bytes
    public_url: str
    max_file_bytes: int = MAX_FILE_BYTES


def files_config(settings: Settings, max_file_bytes: int = MAX_FILE_BYTES) -> FilesConfig:
    """Local disk under ``$POSTROOM_DATA_DIR/files/``, signed with the server secret."""
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    return FilesConfig(
        storage=LocalDiskStorage(settings.data_dir / "files"),
        signing_key=upload_signing_key(secret or load_or_create_secret(settings.data_dir)),
        public_url=settings.public_url.rstrip("/"),
        max_file_bytes=max_file_bytes,
    )


def upload_signing_key(secret: str) -> bytes:
    """A key for upload signatures only, derived from the server secret."""
    return hmac.new(secret.encode(), b"postroom files upload v1", hashlib.sha256).digest()


def sign_upload(signing_key: bytes, file_id: str, expires: str) -> str:
    return hmac.new(signing_key, f"{file_id}\n{expires}".encode(), hashlib.sha256).hexdigest()


def download_url(public_url: str, stored: StoredFile) -> str:
    return f"{public_url.rstrip('/')}{DOWNLOAD_PATH}{stored.id}/{url_name(stored.filename)}"


def url_name(filename: str) -> str:
    """How a download URL ends: the file's name percent-encoded, cut after the last whole
    character that fits in ``URL_NAME_LENGTH``. The id names the file; the name only makes
    the URL readable, and a whole one (9 characters for each CJK one) made URLs longer than
    an attachment's ``url`` may be."""
    encoded, size = [], 0
    for character in filename:
        size += len(quoted := quote(character, safe=""))
        if size > URL_NAME_LENGTH:
            break
        encoded.append(quoted)
    return "".join(encoded)


def upload_grant(config: FilesConfig, stored: StoredFile) -> UploadGrant:
    # Rounded up: the signed deadline may not cut the 60 s short; the exact one is stored.
    expires = str(math.ceil(stored.upload_expires_at.timestamp()))
    fields = {
        "key": stored.id,
        "expires": expires,
        "signature": sign_upload(config.signing_key, stored.id, expires),
    }
    upload_url = f"{config.public_url}{UPLOAD_PATH}{stored.id}/"
    return UploadGrant(upload_url, fields, download_url(config.public_url, stored))


async def grant_upload(
    session: AsyncSession,
    config: FilesConfig,
    caller: Caller,
    body: FileUploadCreate,
    now: datetime | None = None,
) -> UploadGrant:
    now = now or utcnow()
    stored = StoredFile(
        id=new_id("file"),
        organization_id=caller.organization_id,
        user_id=caller.user_id,
        filename=body.filename,
        content_type=body.content_type,
        storage_key=new_storage_key(),
        upload_expires_at=now + UPLOAD_WINDOW,
        created_at=now,
        updated_at=now,
    )
    repository.add(session, stored)
    await session.flush()
    return upload_grant(config, stored)


def check_upload_fields(
    config: FilesConfig, file_id: str, fields: Mapping[str, str], now: datetime
) -> None:
    """Raise ``Forbidden`` unless ``fields`` are the grant's for ``file_id``, unchanged;
    ``ValidationFailed`` if its deadline has passed."""
    expires, signature = fields.get("expires", ""), fields.get("signature", "")
    if fields.get("key") != file_id or not _UNIX_TIME.fullmatch(expires):
        raise Forbidden("Send every field of the upload grant (key, expires, signature) back.")
    expected = sign_upload(config.signing_key, file_id, expires)
    # compare_digest raises TypeError on text with non-ASCII characters; a signature is hex.
    if not signature.isascii() or not hmac.compare_digest(expected, signature):
        raise Forbidden("The upload signature does not match: send the grant's fields unchanged.")
    if int(expires) <= now.timestamp():
        raise upload_expired()


def upload_expired() -> ValidationFailed:
    return ValidationFailed(["The upload grant has expired: upload within 60 s of the grant."])


def file_too_large(limit: int) -> ValidationFailed:
    return ValidationFailed.field("file", f"A file may have at most {limit} bytes.")


class SignedUpload(Protocol):
    """The body of a signed upload as it arrives: the grant's fields, then the file."""

    async def fields(self) -> Mapping[str, str]:
        """The fields before the file, read up to the file and no further."""
        ...

    def file_chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes, read as they are asked for."""
        ...


async def receive_upload(
    session: AsyncSession,
    config: FilesConfig,
    file_id: str,
    upload: SignedUpload,
    started_at: datetime,
) -> StoredFile:
    """Store the bytes of a signed upload that started at ``started_at``. The URL, the
    grant's fields and the grant are checked before the file's bytes are read."""
    if not _FILE_ID.fullmatch(file_id):
        raise Forbidden("This upload URL names no upload grant: use the grant's upload url.")
    check_upload_fields(config, file_id, await upload.fields(), started_at)
    await _check_grant_open(session, file_id, started_at)
    storage_key = new_storage_key()
    size = await _save(config, storage_key, upload.file_chunks())
    try:
        return await _record_upload(session, file_id, storage_key, size, started_at)
    except BaseException:
        await config.storage.delete(storage_key)
        raise


async def _check_grant_open(session: AsyncSession, file_id: str, started_at: datetime) -> None:
    """Refuse a grant used already or past its deadline before its file is read;
    ``_record_upload`` checks again, in the UPDATE that records the file."""
    grant = await repository.get_file_of_any_organization(session, file_id)
    used = grant is not None and grant.uploaded_at is not None
    open_until = grant.upload_expires_at if grant is not None else started_at
    await session.rollback()  # hold no connection (SQLite: the write lock) while bytes arrive
    if used:
        raise already_uploaded()
    if open_until <= started_at:
        raise upload_expired()


def already_uploaded() -> ValidationFailed:
    return ValidationFailed(["This file was uploaded already: ask for a new upload grant."])


async def _save(config: FilesConfig, storage_key: str, chunks: AsyncIterator[bytes]) -> int:
    try:
        return await config.storage.save(storage_key, chunks, config.max_file_bytes)
    except FileTooLarge as error:
        raise file_too_large(error.limit) from error


async def _record_upload(
    session: AsyncSession, file_id: str, storage_key: str, size: int, started_at: datetime
) -> StoredFile:
    now = utcnow()
    stored = await repository.mark_uploaded(
        session, file_id, storage_key, size, now, now + FILE_LIFETIME, started_at
    )
    if stored is not None:
        return stored
    grant = await repository.get_file_of_any_organization(session, file_id)
    if grant is not None and grant.uploaded_at is not None:
        raise already_uploaded()
    raise upload_expired()


def is_usable(stored: StoredFile, now: datetime) -> bool:
    """Uploaded, and either referenced (kept) or not yet expired."""
    if stored.uploaded_at is None:
        return False
    if stored.referenced_at is not None:
        return True
    return stored.expires_at is not None and stored.expires_at > now


async def usable_file(
    session: AsyncSession, organization_id: str, file_id: str, now: datetime | None = None
) -> StoredFile | None:
    stored = await repository.get_file(session, organization_id, file_id)
    if stored is None or not is_usable(stored, now or utcnow()):
        return None
    return stored


async def open_download(
    session: AsyncSession, config: FilesConfig, caller: Caller, file_id: str
) -> FileDownload:
    """The caller's organization's file and its bytes; ``NotFound`` for anything else."""
    stored = await usable_file(session, caller.organization_id, file_id)
    if stored is None:
        raise NotFound("File")
    try:
        chunks = await config.storage.open(stored.storage_key)
    except MissingFile as error:
        raise NotFound("File") from error
    return FileDownload(stored, chunks)


def file_id_from_url(url: str, public_url: str) -> str | None:
    """The file id of a download URL of this server, or None for any other URL."""
    prefix = f"{public_url.rstrip('/')}{DOWNLOAD_PATH}"
    if not url.startswith(prefix):
        return None
    file_id = re.split(r"[/?#]", url[len(prefix) :], maxsplit=1)[0]
    return file_id if _FILE_ID.fullmatch(file_id) else None


async def resolve_attachment(
    session: AsyncSession,
    organization_id: str,
    url: str,
    size: int | None,
    public_url: str,
    now: datetime | None = None,
) -> StoredFile:
    """The usable file of this organization that ``url`` names; else a field error on
    ``attachments``. ``size``, when given, must be the uploaded size."""
    file_id = file_id_from_url(url, public_url)
    if file_id is None:
        message = f"{url!r} is not a file uploaded here: its URL must start with "
        raise ValidationFailed.field(ATTACHMENTS, message + f"{public_url.rstrip('/')}/go/file/.")
    stored = await usable_file(session, organization_id, file_id, now)
    if stored is None:
        raise ValidationFailed.field(ATTACHMENTS, f"{url!r}: no such file, or it has expired.")
    if size is not None and size != stored.size:
        message = f"{url!r}: size {size} does not match the uploaded {stored.size} bytes."
        raise ValidationFailed.field(ATTACHMENTS, message)
    return stored


async def mark_referenced(
    session: AsyncSession, files: Sequence[StoredFile], now: datetime | None = None
) -> None:
    """Keep ``files`` for as long as what references them exists.

    Raises a field error on ``attachments`` if one expired (or was removed) meanwhile.
    """
    now = now or utcnow()
    file_ids = {stored.id for stored in files}
    if not file_ids:
        return
    if await repository.mark_referenced(session, file_ids, now) != len(file_ids):
        raise ValidationFailed.field(ATTACHMENTS, "An attached file has expired; upload it again.")
    for stored in files:
        set_committed_value(stored, "referenced_at", stored.referenced_at or now)


async def read_file_bytes(storage: FileStorage, stored_file: StoredFile) -> bytes:
    """The whole content of a file (for building a message); raises ``MissingFile``."""
    chunks = await storage.open(stored_file.storage_key)
    return b"".join([chunk async for chunk in chunks])


async def remove_expired_files(
    session: AsyncSession, storage: FileStorage, now: datetime, batch: int = 1000
) -> int:
    """Delete up to ``batch`` unreferenced files past their expiry, and grants never used;
    return how many rows went. Bytes are deleted once their row is."""
    storage_keys = await repository.delete_removable_files(
        session, now, now - UNUSED_GRANT_GRACE, batch
    )
    for storage_key in storage_keys:
        await storage.delete(storage_key)
    return len(storage_keys)
