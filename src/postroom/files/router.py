"""HTTP for ``/files/upload/`` (grants, signed uploads) and ``/go/file/`` (downloads).

The signed upload carries no API key: its form fields are its authorization. Its body is read
as multipart form data, at most the file limit plus a little for the fields, before any
database work, so no connection is held while bytes arrive.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from postroom.dependencies import CallerDep, SessionDep
from postroom.errors import ValidationFailed
from postroom.files import service
from postroom.files.schemas import (
    UPLOAD_FORM_OPENAPI,
    FileUploadCreate,
    FileUploadGrant,
    UploadedFile,
    download_headers,
    render_grant,
    render_uploaded,
)
from postroom.files.service import FilesConfig
from postroom.files.storage import CHUNK_BYTES
from postroom.kit.datetimes import utcnow
from postroom.kit.responses import JSONResponse

FORM_OVERHEAD_BYTES = 64 * 1024
FORM_FIELD_BYTES = 4096
FORM_MAX_FIELDS = 16

router = APIRouter(tags=["files"])
download_router = APIRouter(tags=["files"])


async def get_files_config(request: Request) -> FilesConfig:
    """The Files API's configuration, built from the settings on first use."""
    config: FilesConfig | None = getattr(request.app.state, "files_config", None)
    if config is None:
        settings = request.app.state.settings
        config = service.files_config(settings, settings.max_file_bytes)
        request.app.state.files_config = config
    return config


FilesDep = Annotated[FilesConfig, Depends(get_files_config)]


@router.post("/files/upload/", responses={200: {"model": FileUploadGrant}})
async def create_upload_grant(
    body: FileUploadCreate, session: SessionDep, caller: CallerDep, files: FilesDep
) -> JSONResponse:
    grant = await service.grant_upload(session, files, caller, body)
    return JSONResponse(render_grant(grant))


@router.post(
    "/files/upload/{file_id}/",
    status_code=201,
    responses={201: {"model": UploadedFile}},
    openapi_extra=UPLOAD_FORM_OPENAPI,
)
async def upload_file(
    file_id: str, request: Request, session: SessionDep, files: FilesDep
) -> JSONResponse:
    started_at = utcnow()
    async with upload_form(request, files.max_file_bytes) as form:
        stored = await service.receive_upload(
            session, files, file_id, form.fields, file_chunks(form.file), started_at
        )
    body = render_uploaded(stored, service.download_url(files.public_url, stored))
    return JSONResponse(body, status_code=201)


DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, with the content type it was uploaded with.",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@download_router.get(
    "/go/file/{file_id}/{filename:path}",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
)
async def download_file(
    file_id: str, filename: str, session: SessionDep, caller: CallerDep, files: FilesDep
) -> StreamingResponse:
    """``filename`` only makes the URL readable: the id names the file."""
    download = await service.open_download(session, files, caller, file_id)
    return StreamingResponse(download.chunks, headers=download_headers(download.stored))


@dataclass(frozen=True)
class UploadForm:
    fields: dict[str, str]
    file: UploadFile


@asynccontextmanager
async def upload_form(request: Request, max_file_bytes: int) -> AsyncIterator[UploadForm]:
    """The text fields and the ``file`` part of a multipart upload; temporary files are
    closed when the block ends."""
    form = await _parse_multipart(request, max_file_bytes)
    try:
        yield _upload_form(form)
    finally:
        await form.close()


async def _parse_multipart(request: Request, max_file_bytes: int) -> FormData:
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise ValidationFailed(["Upload as multipart/form-data: the grant's fields, then file."])
    body_limit = max_file_bytes + FORM_OVERHEAD_BYTES
    if _declared_length(request) > body_limit:
        raise service.file_too_large(max_file_bytes)
    stream = _at_most(request.stream(), body_limit, max_file_bytes)
    parser = MultiPartParser(
        request.headers,
        stream,
        max_files=1,
        max_fields=FORM_MAX_FIELDS,
        max_part_size=FORM_FIELD_BYTES,
    )
    try:
        return await parser.parse()
    except MultiPartException as error:
        raise ValidationFailed([f"Invalid upload form: {error.message}"]) from error
    except ClientDisconnect as error:
        raise ValidationFailed(["The upload was interrupted."]) from error


def _declared_length(request: Request) -> int:
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isascii() and declared.isdigit() else 0


async def _at_most(
    stream: AsyncIterator[bytes], body_limit: int, max_file_bytes: int
) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in stream:
        received += len(chunk)
        if received > body_limit:
            raise service.file_too_large(max_file_bytes)
        yield chunk


def _upload_form(form: FormData) -> UploadForm:
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise ValidationFailed.field("file", "Send the file's content in a part named file.")
    fields = {name: value for name, value in form.multi_items() if isinstance(value, str)}
    return UploadForm(fields, file)


async def file_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK_BYTES):
        yield chunk
