"""Every error is JSON in Close's format; an unexpected exception is a logged JSON 500."""

from __future__ import annotations

import logging

import httpx
import pytest

from postroom.app import create_app
from postroom.config import Settings
from tests.conftest import Tenant


async def test_unknown_object_is_404_with_closes_message(tenant: Tenant) -> None:
    for path, model in (
        ("/activity/email/acti_missing/", "EmailActivity"),
        ("/lead/lead_missing/", "Lead"),
        ("/contact/cont_missing/", "Contact"),
        ("/user/user_missing/", "User"),
    ):
        response = await tenant.client.get(path)
        assert response.status_code == 404
        assert response.json() == {"error": f"Empty query: {model} matching query does not exist."}


async def test_unsupported_method_is_405_json(tenant: Tenant) -> None:
    for method, path in (("PATCH", "/activity/email/"), ("POST", "/me/"), ("DELETE", "/lead/")):
        response = await tenant.client.request(method, path)
        assert response.status_code == 405
        assert isinstance(response.json()["error"], str)


async def test_unknown_path_is_404_json(tenant: Tenant) -> None:
    response = await tenant.client.get("/no/such/thing/")
    assert response.status_code == 404
    assert isinstance(response.json()["error"], str)


async def test_every_response_carries_a_request_id(tenant: Tenant) -> None:
    response = await tenant.client.get("/me/")
    assert len(response.headers["x-request-id"]) == 16


async def test_unexpected_exception_is_logged_and_answered_with_json_500(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)

    @app.get("/api/v1/explode/")
    async def explode() -> None:
        raise RuntimeError("boom")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with caplog.at_level(logging.ERROR, logger="postroom.errors"):
            response = await client.get("/api/v1/explode/")
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert request_id in response.json()["error"]
    assert any(request_id in record.getMessage() for record in caplog.records)
