"""Files: the upload-grant request, the grant and upload responses, download headers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, Field, field_validator

from postroom.kit.headers import is_media_type
from postroom.kit.schemas import RequestModel
from postroom.models import StoredFile

DOWNLOAD_NAME_BYTES = 255
"""The longest name a download suggests, in UTF-8: what ext4 and APFS can store, so no client
saves less, and the ``Content-Disposition`` header stays near 1 KB."""
EXTENSION_BYTES = 16
"""A name's last dot starts an extension (kept when the name is cut) if this short."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE_IN_QUOTES = re.compile(r'[^\x20-\x7e]|["\\%]')
_PATH_SEPARATORS = re.compile(r"[/\\]")


class FileUploadCreate(RequestModel):
    filename: str = Field(min_length=1, max_length=1000)
    content_type: str = Field(min_length=3, max_length=255)

    @field_validator("filename")
    @classmethod
    def _plain_filename(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("A filename may not contain line breaks or control characters.")
        if value.strip() in {"", ".", ".."}:
            raise ValueError("A filename must name a file.")
        return value

    @field_validator("content_type")
    @classmethod
    def _media_type(cls, value: str) -> str:
        value = value.strip()
        if _CONTROL.search(value) or not is_media_type(value):
            raise ValueError(f"{value!r} is not a media type such as 'application/pdf'.")
        return value


UPLOAD_FORM_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "key": {"type": "string"},
                        "expires": {"type": "string"},
                        "signature": {"type": "string"},
                        "file": {"type": "string", "format": "binary"},
                    },
                    "required": ["key", "expires", "signature", "file"],
                }
            }
        },
    }
}
"""The signed upload's body: every field of the grant, then ``file`` (for ``/docs``)."""


class UploadTarget(BaseModel):
    url: str
    fields: dict[str, str]


class DownloadTarget(BaseModel):
    url: str


class FileUploadGrant(BaseModel):
    upload: UploadTarget
    download: DownloadTarget


class UploadedFile(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    download: DownloadTarget


@dataclass(frozen=True)
class UploadGrant:
    """Where and with which form fields to upload a file, and where it will be downloaded."""

    upload_url: str
    fields: dict[str, str]
    download_url: str


@dataclass(frozen=True)
class FileDownload:
    """A file and its bytes, read in chunks as the response is sent."""

    stored: StoredFile
    chunks: AsyncIterator[bytes]


def render_grant(grant: UploadGrant) -> dict[str, Any]:
    return {
        "upload": {"url": grant.upload_url, "fields": grant.fields},
        "download": {"url": grant.download_url},
    }


def render_uploaded(stored: StoredFile, download_url: str) -> dict[str, Any]:
    return {
        "id": stored.id,
        "filename": stored.filename,
        "content_type": stored.content_type,
        "size": stored.size,
        "download": {"url": download_url},
    }


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the name in RFC 5987 form, both the
    ``download_name``."""
    name = download_name(filename)
    fallback = _UNSAFE_IN_QUOTES.sub("_", name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def download_name(filename: str) -> str:
    """The name a download suggests: path separators become ``_`` (a client saving under it
    stays in its folder), and a name over ``DOWNLOAD_NAME_BYTES`` is cut between characters,
    its extension kept. The file's stored name stays whole."""
    name = _PATH_SEPARATORS.sub("_", filename)
    if len(name.encode()) <= DOWNLOAD_NAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    suffix = dot + extension if stem and len(extension.encode()) < EXTENSION_BYTES else ""
    room = DOWNLOAD_NAME_BYTES - len(suffix.encode())
    return _utf8_prefix(name.removesuffix(suffix), room) + suffix


def _utf8_prefix(text: str, size: int) -> str:
    """The longest start of ``text`` that takes at most ``size`` bytes of UTF-8."""
    return text.encode()[:size].decode(errors="ignore")


def download_content_type(stored: StoredFile) -> str:
    """The type a file was uploaded with; ``application/octet-stream`` for one stored before
    types had to be ASCII (an HTTP header cannot carry it)."""
    return stored.content_type if stored.content_type.isascii() else "application/octet-stream"


def download_headers(stored: StoredFile) -> dict[str, str]:
    headers = {
        "content-type": download_content_type(stored),
        "content-disposition": content_disposition(stored.filename),
        "x-content-type-options": "nosniff",
        "cache-control": "private, no-store",
    }
    if stored.size is not None:
        headers["content-length"] = str(stored.size)
    return headers
