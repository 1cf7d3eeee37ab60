"""``/openapi.json`` and ``/docs`` describe the API with Close's field names."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import Tenant
from tests.helpers import create_email, create_lead


async def openapi(app: FastAPI) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_openapi_lists_every_foundation_endpoint(app: FastAPI) -> None:
    paths = (await openapi(app))["paths"]
    expected = {
        "/api/v1/me/": {"get"},
        "/api/v1/user/": {"get"},
        "/api/v1/user/{user_id}/": {"get"},
        "/api/v1/organization/{organization_id}/": {"get", "put"},
        "/api/v1/lead/": {"get", "post"},
        "/api/v1/lead/{lead_id}/": {"get", "put", "delete"},
        "/api/v1/contact/": {"get", "post"},
        "/api/v1/contact/{contact_id}/": {"get", "put", "delete"},
        "/api/v1/activity/email/": {"get", "post"},
        "/api/v1/activity/email/{email_id}/": {"get", "put", "delete"},
        "/api/v1/activity/": {"get"},
        "/api/v1/task/": {"get", "post", "put"},
        "/api/v1/task/{task_id}/": {"get", "put", "delete"},
        "/api/v1/unsubscribe/email/": {"get", "post"},
        "/api/v1/unsubscribe/email/{email_address}/": {"delete"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path


async def test_email_schema_uses_closes_field_names(app: FastAPI) -> None:
    schemas = (await openapi(app))["components"]["schemas"]
    email = schemas["EmailActivity"]["properties"]
    for name in ("_type", "date_created", "date_sent", "message_ids", "has_reply", "to", "cc"):
        assert name in email, name
    create = schemas["EmailActivityCreate"]
    assert {"lead_id", "status"} <= set(create["required"])


async def test_organization_schema_documents_its_lead_statuses(app: FastAPI) -> None:
    schemas = (await openapi(app))["components"]["schemas"]
    assert "lead_statuses" in schemas["OrganizationOut"]["required"]
    assert set(schemas["LeadStatusOut"]["properties"]) == {"id", "label"}


async def test_docs_page_is_served(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


async def test_the_documented_email_has_every_field_an_email_shows(
    app: FastAPI, tenant: Tenant
) -> None:
    documented = (await openapi(app))["components"]["schemas"]["EmailActivity"]["properties"]
    lead = await create_lead(tenant.client)
    shown = await create_email(tenant.client, lead["id"])
    assert set(shown) == set(documented)
