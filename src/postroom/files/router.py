"""HTTP for ``/files/upload/`` (grants, signed uploads) and ``/go/file/`` (downloads).

The signed upload carries no API key: its form fields are its authorization, so anyone may
send it a body. What can refuse it is checked before the file's bytes are read: the declared
length (at most the file limit plus ``FIELDS_BYTES``), then the grant's fields, which come
before the file (``files.upload_form``), then the grant's row. The file then streams to
storage, and no database connection is held while its bytes arrive.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

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
from postroom.files.upload_form import FIELDS_BYTES, SignedUploadForm
from postroom.kit.datetimes import utcnow
from postroom.kit.responses import JSONResponse
from postroom.kit.routing import RetryingRoute

router = APIRouter(tags=["files"], route_class=RetryingRoute)
download_router = APIRouter(tags=["files"], route_class=RetryingRoute)
upload_router = APIRouter(tags=["files"])
"""The signed upload reads its body as it arrives: gone once read, it cannot be run again
(``kit.routing``)."""


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


@upload_router.post(
    "/files/upload/{file_id}/",
    status_code=201,
    responses={201: {"model": UploadedFile}},
    openapi_extra=UPLOAD_FORM_OPENAPI,
)
async def upload_file(
    file_id: str, request: Request, session: SessionDep, files: FilesDep
) -> JSONResponse:
    started_at = utcnow()
    async with signed_upload_form(request, files.max_file_bytes) as form:
        stored = await service.receive_upload(session, files, file_id, form, started_at)
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


@asynccontextmanager
async def signed_upload_form(
    request: Request, max_file_bytes: int
) -> AsyncIterator[SignedUploadForm]:
    """The multipart body of a signed upload, to be read as it arrives; refused at once when
    it is no multipart form or declares more than the file limit and its fields."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ValidationFailed(["Upload as multipart/form-data: the grant's fields, then file."])
    body_limit = max_file_bytes + FIELDS_BYTES
    if _declared_length(request) > body_limit:
        raise service.file_too_large(max_file_bytes)
    async with aclosing(_at_most(request.stream(), body_limit, max_file_bytes)) as stream:
        yield SignedUploadForm(content_type, stream)


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
