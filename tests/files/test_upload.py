"""Files API over HTTP (§3 Files): grants, signed uploads, downloads, expiry, attachments."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from postroom.config import Settings
from postroom.db import Database
from postroom.errors import ValidationFailed
from postroom.files.router import get_files_config
from postroom.files.service import (
    UPLOAD_WINDOW,
    FilesConfig,
    check_upload_fields,
    files_config,
    mark_referenced,
    read_file_bytes,
    remove_expired_files,
    resolve_attachment,
    sign_upload,
    upload_grant,
)
from postroom.files.storage import LocalDiskStorage, MissingFile
from postroom.kit.datetimes import utcnow
from postroom.models import StoredFile
from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, field_errors, ok, upload_file

PDF = b"%PDF-1.4 not really a pdf\n" * 10


async def grant(
    client: httpx.AsyncClient, filename: str = "report.pdf", content_type: str = "application/pdf"
) -> dict[str, Any]:
    body = {"filename": filename, "content_type": content_type}
    return ok(await client.post("/files/upload/", json=body))


async def upload(
    client: httpx.AsyncClient, granted: dict[str, Any], content: bytes = PDF, **changed: str
) -> httpx.Response:
    """POST the grant's fields (some ``changed``) and ``file``, as S3 clients do."""
    fields = {**granted["upload"]["fields"], **changed}
    files = {"file": ("report.pdf", content, "application/pdf")}
    return await client.post(granted["upload"]["url"], data=fields, files=files)


async def uploaded(tenant: Tenant, anonymous: httpx.AsyncClient, **grant_fields: str) -> str:
    """A file of ``tenant`` uploaded; its download URL."""
    granted = await grant(tenant.client, **grant_fields)
    response = await upload(anonymous, granted)
    assert response.status_code == 201, response.text
    url: str = granted["download"]["url"]
    return url


def file_id_of(url: str) -> str:
    return url.split("/go/file/", 1)[1].split("/", 1)[0]


async def stored_file(database: Database, file_id: str) -> StoredFile:
    async with database.transaction() as session:
        found = await session.execute(select(StoredFile).where(StoredFile.id == file_id))
        return found.scalar_one()


async def change_file(database: Database, file_id: str, **values: Any) -> None:
    async with database.transaction() as session:
        await session.execute(update(StoredFile).where(StoredFile.id == file_id).values(**values))


def past() -> Any:
    return utcnow() - timedelta(seconds=1)


@pytest.fixture
def config(settings: Settings) -> FilesConfig:
    return files_config(settings)


@pytest.fixture
def ten_byte_limit(app: FastAPI, config: FilesConfig) -> Iterator[None]:
    small = replace(config, max_file_bytes=10)
    app.dependency_overrides[get_files_config] = lambda: small
    yield
    app.dependency_overrides.pop(get_files_config)


# Grants


async def test_grant_has_upload_url_fields_and_download_url(tenant: Tenant) -> None:
    granted = await grant(tenant.client)
    assert set(granted) == {"upload", "download"}
    fields = granted["upload"]["fields"]
    assert set(fields) == {"key", "expires", "signature"}
    assert fields["key"].startswith("file_")
    assert granted["upload"]["url"] == f"http://testserver/api/v1/files/upload/{fields['key']}/"
    assert granted["download"]["url"] == f"http://testserver/go/file/{fields['key']}/report.pdf"
    assert int(fields["expires"]) - utcnow().timestamp() == pytest.approx(60, abs=2)


@pytest.mark.parametrize("filename", ["名前" * 500, "é" * 996 + ".pdf", "a" * 1000])
async def test_the_download_url_of_any_name_can_be_attached(tenant: Tenant, filename: str) -> None:
    """Its name part is cut to whole characters within 240; the file id names the file."""
    item = await upload_file(tenant.client, filename, "application/pdf", b"%PDF-1.7")
    name = item["url"].rsplit("/", 1)[1]
    assert len(name) <= 240
    assert filename.startswith(unquote(name))
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"], attachments=[item])
    assert email["attachments"][0]["url"] == item["url"]
    download = await tenant.client.get(item["url"])
    assert download.status_code == 200
    assert download.content == b"%PDF-1.7"


async def test_grant_records_the_file_for_the_callers_organization(
    tenant: Tenant, database: Database
) -> None:
    granted = await grant(tenant.client, "notes.txt", "text/plain; charset=utf-8")
    row = await stored_file(database, granted["upload"]["fields"]["key"])
    assert (row.organization_id, row.user_id) == (tenant.organization_id, tenant.user_id)
    assert (row.filename, row.content_type) == ("notes.txt", "text/plain; charset=utf-8")
    assert row.uploaded_at is None


async def test_grant_requires_filename_and_content_type(tenant: Tenant) -> None:
    errors = field_errors(await tenant.client.post("/files/upload/", json={}))
    assert set(errors) == {"filename", "content_type"}


@pytest.mark.parametrize(
    ("filename", "content_type", "field"),
    [
        ("report.pdf", "pdf", "content_type"),
        ("report.pdf", "application/pdf\r\nX-Evil: 1", "content_type"),
        ("report.pdf", "application/pdf; name=\u20ac", "content_type"),
        ("report.pdf", "text/plain; charset=\u00e9", "content_type"),
        ("report\r\n.pdf", "application/pdf", "filename"),
        ("..", "application/pdf", "filename"),
        ("x" * 1001, "application/pdf", "filename"),
    ],
)
async def test_grant_refuses_unusable_names_and_types(
    tenant: Tenant, filename: str, content_type: str, field: str
) -> None:
    body = {"filename": filename, "content_type": content_type}
    assert field in field_errors(await tenant.client.post("/files/upload/", json=body))


async def test_grant_requires_an_api_key(anonymous: httpx.AsyncClient) -> None:
    body = {"filename": "report.pdf", "content_type": "application/pdf"}
    response = await anonymous.post("/files/upload/", json=body)
    assert response.status_code == 401
    assert "error" in response.json()


# Uploads


async def test_upload_within_60_seconds_answers_201_without_an_api_key(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    granted = await grant(tenant.client)
    response = await upload(anonymous, granted)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"] == granted["upload"]["fields"]["key"]
    assert body["size"] == len(PDF)
    assert body["download"] == granted["download"]


@pytest.mark.parametrize("field", ["key", "expires", "signature"])
async def test_tampered_field_is_forbidden(
    tenant: Tenant, anonymous: httpx.AsyncClient, field: str
) -> None:
    granted = await grant(tenant.client)
    other = (await grant(tenant.client))["upload"]["fields"]
    tampered = {
        "key": other["key"],
        "expires": str(int(granted["upload"]["fields"]["expires"]) + 3600),
        "signature": other["signature"],
    }
    response = await upload(anonymous, granted, **{field: tampered[field]})
    assert response.status_code == 403
    assert set(response.json()) == {"error"}


@pytest.mark.parametrize("signature", ["é" * 64, "\u00ff", "\U0001f600"])
async def test_a_signature_with_non_ascii_characters_is_forbidden_and_stores_nothing(
    tenant: Tenant, anonymous: httpx.AsyncClient, signature: str
) -> None:
    """The route needs no API key: anyone may send it anything. ``hmac.compare_digest``
    refuses to compare text with non-ASCII characters (a TypeError, so a 500); the grant
    still works afterwards."""
    granted = await grant(tenant.client)
    response = await upload(anonymous, granted, signature=signature)
    assert response.status_code == 403, response.text
    assert set(response.json()) == {"error"}
    assert (await upload(anonymous, granted)).status_code == 201


async def test_upload_without_the_grant_fields_is_forbidden(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    granted = await grant(tenant.client)
    files = {"file": ("report.pdf", PDF, "application/pdf")}
    response = await anonymous.post(granted["upload"]["url"], files=files)
    assert response.status_code == 403


async def test_upload_after_the_deadline_is_refused_with_400(
    tenant: Tenant, anonymous: httpx.AsyncClient, database: Database
) -> None:
    granted = await grant(tenant.client)
    await change_file(database, granted["upload"]["fields"]["key"], upload_expires_at=past())
    response = await upload(anonymous, granted)
    assert response.status_code == 400
    assert "expired" in response.json()["error"]
    assert response.json()["field-errors"] == {}


async def test_upload_signed_deadline_is_checked_too(
    tenant: Tenant, anonymous: httpx.AsyncClient, config: FilesConfig
) -> None:
    granted = await grant(tenant.client)
    file_id = granted["upload"]["fields"]["key"]
    expires = str(int(utcnow().timestamp()) - 1)
    signature = sign_upload(config.signing_key, file_id, expires)
    response = await upload(anonymous, granted, expires=expires, signature=signature)
    assert response.status_code == 400
    assert "expired" in response.json()["error"]


def test_the_signed_deadline_allows_the_whole_60_seconds(config: FilesConfig) -> None:
    """Close: the upload must be made within 60 seconds of the grant; one started half a
    second before the deadline passes the signed check (the stored deadline is the exact one)."""
    deadline = utcnow().replace(microsecond=900_000) + UPLOAD_WINDOW
    stored = StoredFile(id="file_abc", filename="a.pdf", upload_expires_at=deadline)
    fields = upload_grant(config, stored).fields
    check_upload_fields(config, "file_abc", fields, deadline - timedelta(milliseconds=500))
    with pytest.raises(ValidationFailed):
        check_upload_fields(config, "file_abc", fields, deadline + timedelta(seconds=1))


async def test_a_grant_is_used_once(tenant: Tenant, anonymous: httpx.AsyncClient) -> None:
    granted = await grant(tenant.client)
    assert (await upload(anonymous, granted)).status_code == 201
    again = await upload(anonymous, granted, content=b"replaced")
    assert again.status_code == 400
    download = await tenant.client.get(granted["download"]["url"])
    assert download.content == PDF


async def test_upload_without_a_file_part_is_refused(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    granted = await grant(tenant.client)
    fields = granted["upload"]["fields"]
    response = await anonymous.post(granted["upload"]["url"], files={"key": (None, fields["key"])})
    assert "file" in field_errors(response)


async def test_upload_that_is_not_multipart_is_refused(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    granted = await grant(tenant.client)
    response = await anonymous.post(granted["upload"]["url"], data=granted["upload"]["fields"])
    assert response.status_code == 400
    assert "multipart" in response.json()["error"]


@pytest.mark.usefixtures("ten_byte_limit")
async def test_file_at_the_size_limit_is_accepted(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    response = await upload(anonymous, await grant(tenant.client), content=b"0123456789")
    assert response.status_code == 201, response.text


@pytest.mark.usefixtures("ten_byte_limit")
async def test_file_over_the_size_limit_is_refused_with_400(
    tenant: Tenant, anonymous: httpx.AsyncClient, database: Database
) -> None:
    granted = await grant(tenant.client)
    response = await upload(anonymous, granted, content=b"0123456789!")
    assert "10 bytes" in field_errors(response)["file"]
    assert (await stored_file(database, granted["upload"]["fields"]["key"])).uploaded_at is None


@pytest.mark.usefixtures("ten_byte_limit")
async def test_body_far_over_the_size_limit_is_refused_before_it_is_read(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    response = await upload(anonymous, await grant(tenant.client), content=b"x" * 200_000)
    assert "file" in field_errors(response)


# Downloads


async def test_download_returns_the_bytes_type_and_filename(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    url = await uploaded(tenant, anonymous, filename="Q3 report.pdf")
    response = await tenant.client.get(url)
    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(PDF))
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert 'filename="Q3 report.pdf"' in disposition


async def test_download_of_a_non_ascii_name_keeps_it_in_rfc_5987_form(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    url = await uploaded(tenant, anonymous, filename='Prüfbericht "final".pdf')
    disposition = (await tenant.client.get(url)).headers["content-disposition"]
    assert 'filename="Pr_fbericht _final_.pdf"' in disposition
    assert "filename*=UTF-8''Pr%C3%BCfbericht%20%22final%22.pdf" in disposition


async def test_download_of_a_file_stored_with_a_non_ascii_type_is_octet_stream(
    tenant: Tenant, anonymous: httpx.AsyncClient, database: Database
) -> None:
    """Before types had to be ASCII, such a download was a 500 (UnicodeEncodeError)."""
    url = await uploaded(tenant, anonymous)
    await change_file(database, file_id_of(url), content_type="application/pdf; name=\u20ac")
    response = await tenant.client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.content == PDF


async def test_download_with_a_bearer_token_works(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    url = await uploaded(tenant, anonymous)
    bearer = {"authorization": f"Bearer {tenant.api_key}"}
    response = await anonymous.get(url, headers=bearer)
    assert response.content == PDF


async def test_download_without_credentials_is_401(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    response = await anonymous.get(await uploaded(tenant, anonymous))
    assert response.status_code == 401
    assert "error" in response.json()


async def test_download_of_another_organizations_file_is_404(
    tenant: Tenant, other_tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    response = await other_tenant.client.get(await uploaded(tenant, anonymous))
    assert response.status_code == 404
    assert response.json() == {"error": "Empty query: File matching query does not exist."}


async def test_download_before_the_upload_is_404(tenant: Tenant) -> None:
    granted = await grant(tenant.client)
    assert (await tenant.client.get(granted["download"]["url"])).status_code == 404


async def test_download_of_an_unknown_file_is_404(tenant: Tenant) -> None:
    response = await tenant.client.get("http://testserver/go/file/file_nope/x.pdf")
    assert response.status_code == 404


# Expiry


async def test_unreferenced_file_cannot_be_downloaded_after_24_hours(
    tenant: Tenant, anonymous: httpx.AsyncClient, database: Database
) -> None:
    url = await uploaded(tenant, anonymous)
    row = await stored_file(database, file_id_of(url))
    assert row.expires_at is not None
    assert row.uploaded_at is not None
    assert row.expires_at - row.uploaded_at == timedelta(hours=24)
    await change_file(database, row.id, expires_at=past())
    assert (await tenant.client.get(url)).status_code == 404


async def test_unreferenced_file_is_removed_after_24_hours(
    tenant: Tenant, anonymous: httpx.AsyncClient, database: Database, config: FilesConfig
) -> None:
    url = await uploaded(tenant, anonymous)
    row = await stored_file(database, file_id_of(url))
    await change_file(database, row.id, expires_at=past())
    async with database.transaction() as session:
        assert await remove_expired_files(session, config.storage, utcnow()) >= 1
    async with database.transaction() as session:
        assert await session.get(StoredFile, row.id) is None
    with pytest.raises(MissingFile):
        await config.storage.open(row.storage_key)


async def test_file_within_24_hours_is_not_removed(
    tenant: Tenant, anonymous: httpx.AsyncClient, database: Database, config: FilesConfig
) -> None:
    url = await uploaded(tenant, anonymous)
    async with database.transaction() as session:
        await remove_expired_files(session, config.storage, utcnow())
    assert (await tenant.client.get(url)).content == PDF


async def test_referenced_file_is_kept_past_24_hours(
    tenant: Tenant, anonymous: httpx.AsyncClient, database: Database, config: FilesConfig
) -> None:
    url = await uploaded(tenant, anonymous)
    async with database.transaction() as session:
        stored = await resolve_attachment(
            session, tenant.organization_id, url, len(PDF), config.public_url
        )
        await mark_referenced(session, [stored])
    await change_file(database, file_id_of(url), expires_at=past())
    async with database.transaction() as session:
        await remove_expired_files(session, config.storage, utcnow() + timedelta(days=365))
    assert (await tenant.client.get(url)).content == PDF


async def test_grant_never_used_is_removed_an_hour_after_its_deadline(
    tenant: Tenant, database: Database, config: FilesConfig
) -> None:
    file_id = (await grant(tenant.client))["upload"]["fields"]["key"]
    async with database.transaction() as session:
        await remove_expired_files(session, config.storage, utcnow())
        assert await session.get(StoredFile, file_id) is not None
    await change_file(database, file_id, upload_expires_at=utcnow() - timedelta(hours=2))
    async with database.transaction() as session:
        await remove_expired_files(session, config.storage, utcnow())
        assert await session.get(StoredFile, file_id) is None


# Storage location


async def test_path_traversal_in_a_filename_never_leaves_the_storage_root(
    tenant: Tenant, anonymous: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    url = await uploaded(tenant, anonymous, filename="../../etc/passwd")
    assert url.endswith("/..%2F..%2Fetc%2Fpasswd")
    row = await stored_file(database, file_id_of(url))
    root = (settings.data_dir / "files").resolve()
    where = LocalDiskStorage(root).path_of(row.storage_key).resolve()
    assert where.is_relative_to(root)
    assert where.read_bytes() == PDF
    assert not (settings.data_dir.parent / "etc" / "passwd").exists()
    response = await tenant.client.get(url)
    assert response.content == PDF
    disposition = response.headers["content-disposition"]
    assert 'filename=".._.._etc_passwd"' in disposition
    assert "filename*=UTF-8''.._.._etc_passwd" in disposition


async def test_files_are_stored_under_the_data_dir(
    tenant: Tenant, anonymous: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    url = await uploaded(tenant, anonymous)
    row = await stored_file(database, file_id_of(url))
    stored = list((settings.data_dir / "files").rglob(row.storage_key))
    assert [path.read_bytes() for path in stored] == [PDF]


# Attachments (used by emails and templates)


async def test_attachment_url_resolves_to_the_uploaded_file(
    tenant: Tenant, anonymous: httpx.AsyncClient, database: Database, config: FilesConfig
) -> None:
    url = await uploaded(tenant, anonymous)
    async with database.transaction() as session:
        stored = await resolve_attachment(
            session, tenant.organization_id, url, len(PDF), config.public_url
        )
    assert stored.id == file_id_of(url)
    assert await read_file_bytes(config.storage, stored) == PDF


async def attachment_error(
    database: Database, organization_id: str, url: str, size: int | None, public_url: str
) -> str:
    async with database.transaction() as session:
        with pytest.raises(ValidationFailed) as raised:
            await resolve_attachment(session, organization_id, url, size, public_url)
    return raised.value.field_errors["attachments"]


async def test_attachment_with_an_external_url_is_refused(
    tenant: Tenant, database: Database, config: FilesConfig
) -> None:
    url = "https://app.close.com/go/file/file_abc/report.pdf"
    message = await attachment_error(database, tenant.organization_id, url, 1, config.public_url)
    assert "http://testserver/go/file/" in message


async def test_attachment_of_another_organization_is_refused(
    tenant: Tenant,
    other_tenant: Tenant,
    anonymous: httpx.AsyncClient,
    database: Database,
    config: FilesConfig,
) -> None:
    url = await uploaded(tenant, anonymous)
    message = await attachment_error(
        database, other_tenant.organization_id, url, len(PDF), config.public_url
    )
    assert "no such file" in message


async def test_attachment_with_a_wrong_size_is_refused(
    tenant: Tenant, anonymous: httpx.AsyncClient, database: Database, config: FilesConfig
) -> None:
    url = await uploaded(tenant, anonymous)
    message = await attachment_error(database, tenant.organization_id, url, 1, config.public_url)
    assert "does not match" in message


async def test_attachment_not_yet_uploaded_is_refused(
    tenant: Tenant, database: Database, config: FilesConfig
) -> None:
    url = (await grant(tenant.client))["download"]["url"]
    message = await attachment_error(database, tenant.organization_id, url, 1, config.public_url)
    assert "no such file" in message


async def test_attachment_that_expired_is_refused(
    tenant: Tenant, anonymous: httpx.AsyncClient, database: Database, config: FilesConfig
) -> None:
    url = await uploaded(tenant, anonymous)
    await change_file(database, file_id_of(url), expires_at=past())
    message = await attachment_error(
        database, tenant.organization_id, url, len(PDF), config.public_url
    )
    assert "expired" in message


async def test_referencing_a_file_that_expired_meanwhile_is_refused(
    tenant: Tenant, anonymous: httpx.AsyncClient, database: Database, config: FilesConfig
) -> None:
    url = await uploaded(tenant, anonymous)
    async with database.transaction() as session:
        stored = await resolve_attachment(
            session, tenant.organization_id, url, None, config.public_url
        )
    await change_file(database, stored.id, expires_at=past())
    async with database.transaction() as session:
        with pytest.raises(ValidationFailed) as raised:
            await mark_referenced(session, [stored])
    assert "attachments" in raised.value.field_errors


def test_storage_root_is_the_files_folder_of_the_data_dir(
    config: FilesConfig, settings: Settings
) -> None:
    assert isinstance(config.storage, LocalDiskStorage)
    assert config.storage.root == Path(settings.data_dir) / "files"


async def test_file_over_25_megabytes_is_refused_by_default(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    content = b"x" * (25 * 1024 * 1024 + 1)
    response = await upload(anonymous, await grant(tenant.client), content=content)
    assert "26214400 bytes" in field_errors(response)["file"]


async def test_file_of_25_megabytes_is_accepted_by_default(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    content = b"x" * (25 * 1024 * 1024)
    response = await upload(anonymous, await grant(tenant.client), content=content)
    assert response.status_code == 201, response.text
