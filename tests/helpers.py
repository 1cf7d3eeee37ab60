"""Small builders used across tests: leads, contacts and emails through the public API."""

from __future__ import annotations

from typing import Any

import httpx


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def field_errors(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert isinstance(body["errors"], list)
    errors: dict[str, str] = body["field-errors"]
    return errors


async def create_lead(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Acme Corp",
        "contacts": [{"name": "Jane Doe", "emails": [{"email": "jane@acme.example.com"}]}],
        **fields,
    }
    return ok(await client.post("/lead/", json=body))


async def create_email(client: httpx.AsyncClient, lead_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "lead_id": lead_id,
        "status": "draft",
        "subject": "Hello",
        "body_text": "Hi there",
        "to": ["jane@acme.example.com"],
        **fields,
    }
    return ok(await client.post("/activity/email/", json=body))
