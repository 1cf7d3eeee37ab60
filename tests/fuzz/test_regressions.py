"""What the schemathesis runs found, each as a plain test."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.conftest import Tenant
from tests.helpers import upload_file

DOWNLOAD_PATH = "/go/file/{file_id}/{filename}"


async def test_download_answers_only_with_documented_statuses(app: FastAPI, tenant: Tenant) -> None:
    """``GET /go/file/...`` documented a 200 JSON body and FastAPI's 422; it answers with the
    file's bytes, and with Close's error body on 4xx (a missing file is a 404)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        responses = (await client.get("/openapi.json")).json()["paths"][DOWNLOAD_PATH]["get"][
            "responses"
        ]
        missing = await client.get("/go/file/0/0", auth=(tenant.api_key, ""))
    assert set(responses) == {"200", "4XX"}
    assert set(responses["200"]["content"]) == {"*/*"}
    assert missing.status_code == 404
    assert "error" in missing.json()
    attachment = await upload_file(tenant.client, "notes.txt", "text/plain", b"Call back")
    found = await tenant.client.get(attachment["url"])
    assert found.status_code == 200
    assert found.headers["content-type"].startswith("text/plain")
