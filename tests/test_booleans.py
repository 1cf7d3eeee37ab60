"""A boolean in a request body is ``true`` or ``false``; anything else is a field error that
changes nothing (docs/decisions.md, "A boolean field takes true or false only")."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import create_lead, field_errors, ok

NOT_BOOLEANS = ["yes", "true", "off", 1, 0, None]
NOT_BOOLEANS_OR_NULL = NOT_BOOLEANS[:-1]
"""For an optional flag, where null means "not given"."""

WEBHOOK = {
    "url": "https://93.184.216.34/hooks/close",
    "events": [{"object_type": "lead", "action": "created"}],
}
TEMPLATE = {"name": "Welcome", "subject": "Hello", "body": "<p>Hi</p>"}


def refused_on(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    assert field in field_errors(response)


async def count(client: httpx.AsyncClient, path: str, **params: str) -> int:
    return len(ok(await client.get(path, params=params))["data"])


@pytest.mark.parametrize("value", NOT_BOOLEANS)
@pytest.mark.parametrize("field", ["is_shared", "is_archived"])
async def test_a_template_flag_that_is_not_a_boolean_creates_nothing(
    tenant: Tenant, field: str, value: Any
) -> None:
    refused_on(await tenant.client.post("/email_template/", json={**TEMPLATE, field: value}), field)
    assert await count(tenant.client, "/email_template/") == 0


@pytest.mark.parametrize("value", NOT_BOOLEANS)
async def test_a_template_flag_that_is_not_a_boolean_changes_nothing(
    tenant: Tenant, value: Any
) -> None:
    template = ok(await tenant.client.post("/email_template/", json=TEMPLATE))
    path = f"/email_template/{template['id']}/"
    refused_on(await tenant.client.put(path, json={"is_shared": value, "name": "New"}), "is_shared")
    assert ok(await tenant.client.get(path)) == template


@pytest.mark.parametrize("value", NOT_BOOLEANS)
async def test_a_task_is_complete_that_is_not_a_boolean_changes_nothing(
    tenant: Tenant, value: Any
) -> None:
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], "text": "Call", "is_complete": value}
    refused_on(await tenant.client.post("/task/", json=body), "is_complete")
    assert await count(tenant.client, "/task/", lead_id=lead["id"]) == 0
    task = ok(await tenant.client.post("/task/", json={**body, "is_complete": False}))
    path = f"/task/{task['id']}/"
    refused_on(await tenant.client.put(path, json={"is_complete": value}), "is_complete")
    assert ok(await tenant.client.get(path)) == task


@pytest.mark.parametrize("value", NOT_BOOLEANS)
async def test_a_webhook_verify_ssl_that_is_not_a_boolean_changes_nothing(
    tenant: Tenant, value: Any
) -> None:
    refused_on(
        await tenant.client.post("/webhook/", json={**WEBHOOK, "verify_ssl": value}), "verify_ssl"
    )
    assert await count(tenant.client, "/webhook/") == 0
    created = await tenant.client.post("/webhook/", json=WEBHOOK)
    path = f"/webhook/{created.json()['id']}/"
    before = ok(await tenant.client.get(path))
    refused_on(await tenant.client.put(path, json={**WEBHOOK, "verify_ssl": value}), "verify_ssl")
    assert ok(await tenant.client.get(path)) == before


@pytest.mark.parametrize("value", NOT_BOOLEANS)
async def test_a_contact_email_is_unsubscribed_that_is_not_a_boolean_creates_nothing(
    tenant: Tenant, value: Any
) -> None:
    lead = await create_lead(tenant.client, contacts=[])
    emails = [{"email": "jane@acme.example.com", "is_unsubscribed": value}]
    body = {"lead_id": lead["id"], "name": "Jane", "emails": emails}
    refused_on(await tenant.client.post("/contact/", json=body), "emails")
    assert await count(tenant.client, "/contact/", lead_id=lead["id"]) == 0


@pytest.mark.parametrize("value", NOT_BOOLEANS_OR_NULL)
async def test_an_email_flag_that_is_not_a_boolean_creates_nothing(
    tenant: Tenant, value: Any
) -> None:
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], "status": "draft", "followup_sequence_add_cc_bcc": value}
    refused_on(
        await tenant.client.post("/activity/email/", json=body), "followup_sequence_add_cc_bcc"
    )
    attachment = {
        "url": "http://testserver/go/file/x/a.txt",
        "filename": "a.txt",
        "inline_only": value,
    }
    body = {"lead_id": lead["id"], "status": "draft", "attachments": [attachment]}
    refused_on(await tenant.client.post("/activity/email/", json=body), "attachments")
    assert await count(tenant.client, "/activity/email/", lead_id=lead["id"]) == 0


async def test_json_booleans_are_taken_as_given(tenant: Tenant) -> None:
    template = ok(
        await tenant.client.post("/email_template/", json={**TEMPLATE, "is_shared": True})
    )
    assert template["is_shared"] is True
    path = f"/email_template/{template['id']}/"
    assert ok(await tenant.client.put(path, json={"is_shared": False}))["is_shared"] is False
