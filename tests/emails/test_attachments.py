"""Attachments must be files this organization uploaded through the Files API (point 8)."""

from __future__ import annotations

from typing import Any

import httpx

from postroom.db import Database
from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, field_errors, upload_file


async def post(tenant: Tenant, attachments: Any) -> httpx.Response:
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], "status": "draft", "attachments": attachments}
    return await tenant.client.post("/activity/email/", json=body)


async def test_an_uploaded_file_can_be_attached(tenant: Tenant) -> None:
    item = await upload_file(tenant.client, "report.pdf", "application/pdf", b"%PDF-1.7 data")
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"], attachments=[item])
    assert email["attachments"] == [{**item, "content_id": None, "inline_only": False}]


async def test_content_type_defaults_to_the_uploaded_one(tenant: Tenant) -> None:
    item = await upload_file(tenant.client, "a.csv", "text/csv", b"a,b\n")
    lead = await create_lead(tenant.client)
    item.pop("content_type")
    email = await create_email(tenant.client, lead["id"], attachments=[item])
    assert email["attachments"][0]["content_type"] == "text/csv"


async def test_an_external_url_is_refused(tenant: Tenant) -> None:
    item = {"url": "https://app.close.com/go/file/abc/x.pdf", "filename": "x.pdf", "size": 1}
    assert "attachments" in field_errors(await post(tenant, [item]))


async def test_another_organizations_file_is_refused(tenant: Tenant, other_tenant: Tenant) -> None:
    item = await upload_file(other_tenant.client, "secret.txt", "text/plain", b"secret")
    assert "attachments" in field_errors(await post(tenant, [item]))


async def test_an_unknown_file_is_refused(tenant: Tenant) -> None:
    item = await upload_file(tenant.client, "a.txt", "text/plain", b"hello")
    item["url"] = item["url"].replace("/go/file/file_", "/go/file/file_X")
    assert "attachments" in field_errors(await post(tenant, [item]))


async def test_a_wrong_size_is_refused(tenant: Tenant) -> None:
    item = await upload_file(tenant.client, "a.txt", "text/plain", b"hello")
    assert "attachments" in field_errors(await post(tenant, [{**item, "size": 6}]))


async def test_more_than_1000_items_are_refused(tenant: Tenant) -> None:
    item = await upload_file(tenant.client, "a.txt", "text/plain", b"x")
    assert "attachments" in field_errors(await post(tenant, [item] * 1001))


async def test_a_total_over_the_file_size_limit_is_refused(
    tenant: Tenant, database: Database, settings: Any
) -> None:
    limit = settings.max_file_bytes
    chunk = b"x" * (limit // 2 + 1)
    first = await upload_file(tenant.client, "a.bin", "application/octet-stream", chunk)
    second = await upload_file(tenant.client, "b.bin", "application/octet-stream", chunk)
    assert "attachments" in field_errors(await post(tenant, [first, second]))


async def test_attachments_can_be_changed_on_a_draft(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    draft = await create_email(tenant.client, lead["id"])
    item = await upload_file(tenant.client, "late.txt", "text/plain", b"later")
    response = await tenant.client.put(
        f"/activity/email/{draft['id']}/", json={"attachments": [item]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["attachments"][0]["filename"] == "late.txt"
    bad = await tenant.client.put(
        f"/activity/email/{draft['id']}/",
        json={"attachments": [{**item, "url": "http://evil.example.com/x"}]},
    )
    assert "attachments" in field_errors(bad)


async def test_a_content_type_that_is_no_media_type_is_refused(tenant: Tenant) -> None:
    item = await upload_file(tenant.client, "a.txt", "text/plain", b"hello")
    for content_type in ("pdf", "text", "text/plain/extra", "text/plain\x0bx"):
        errors = field_errors(await post(tenant, [{**item, "content_type": content_type}]))
        assert set(errors) == {"attachments"}


async def test_an_empty_content_type_is_the_uploaded_one(tenant: Tenant) -> None:
    item = await upload_file(tenant.client, "a.csv", "text/csv", b"a,b\n")
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"], attachments=[item | {"content_type": ""}])
    assert email["attachments"][0]["content_type"] == "text/csv"


async def test_a_content_id_is_one_token_with_or_without_angle_brackets(tenant: Tenant) -> None:
    item = await upload_file(tenant.client, "logo.png", "image/png", b"png")
    lead = await create_lead(tenant.client)
    for content_id in ("logo", "logo@example.com", "<logo@example.com>"):
        email = await create_email(
            tenant.client, lead["id"], attachments=[item | {"content_id": content_id}]
        )
        assert email["attachments"][0]["content_id"] == content_id
    for content_id in ("my logo", "a<b", "<a> <b>", "logö"):
        errors = field_errors(await post(tenant, [item | {"content_id": content_id}]))
        assert set(errors) == {"attachments"}
