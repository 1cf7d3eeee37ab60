"""A PUT or DELETE racing the deletion of the same lead, contact, task or template waits for it
and answers 404: no 500, and no second ``deleted`` event for what is already gone. An email,
task or contact made for a lead being deleted is a 400 on ``lead_id``, not a foreign-key 500.

The racing deletion is held in an open transaction while the request is sent (``during``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import delete

from postroom.db import Database
from postroom.models import Contact, EmailTemplate, EmailThread, Lead, Task
from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, during, field_errors, ok

Made = tuple[str, Any]
"""The path of the object made, and its model."""


async def a_lead(tenant: Tenant) -> Made:
    return f"/lead/{(await create_lead(tenant.client))['id']}/", Lead


async def a_contact(tenant: Tenant) -> Made:
    contact = (await create_lead(tenant.client))["contacts"][0]
    return f"/contact/{contact['id']}/", Contact


async def a_task(tenant: Tenant) -> Made:
    lead = await create_lead(tenant.client)
    task = ok(await tenant.client.post("/task/", json={"lead_id": lead["id"], "text": "Call"}))
    return f"/task/{task['id']}/", Task


async def a_template(tenant: Tenant) -> Made:
    body = {"name": "Hello", "subject": "Hi", "body": "Hello"}
    return (
        f"/email_template/{ok(await tenant.client.post('/email_template/', json=body))['id']}/",
        (EmailTemplate),
    )


MAKERS: dict[str, tuple[Callable[[Tenant], Awaitable[Made]], dict[str, Any]]] = {
    "lead": (a_lead, {"name": "Renamed"}),
    "contact": (a_contact, {"name": "Renamed"}),
    "task": (a_task, {"text": "Renamed"}),
    "email_template": (a_template, {"name": "Renamed"}),
}


def removal(path: str, model: Any) -> Any:
    return delete(model).where(model.id == path.rstrip("/").rpartition("/")[2])


async def deleted_events(tenant: Tenant, path: str) -> int:
    object_id = path.rstrip("/").rpartition("/")[2]
    events = ok(await tenant.client.get("/event/", params={"object_id": object_id}))["data"]
    return sum(event["action"] == "deleted" for event in events)


@pytest.mark.parametrize("kind", MAKERS)
async def test_a_put_racing_a_deletion_is_a_404(
    tenant: Tenant, database: Database, kind: str
) -> None:
    make, change = MAKERS[kind]
    path, model = await make(tenant)
    response = await during(database, removal(path, model), tenant.client.put(path, json=change))
    assert response.status_code == 404, response.text


@pytest.mark.parametrize("kind", MAKERS)
async def test_a_delete_racing_a_deletion_is_a_404_and_records_nothing(
    tenant: Tenant, database: Database, kind: str
) -> None:
    make, _change = MAKERS[kind]
    path, model = await make(tenant)
    response = await during(database, removal(path, model), tenant.client.delete(path))
    assert response.status_code == 404, response.text
    assert await deleted_events(tenant, path) == 0


NEW_FOR_LEAD: dict[str, dict[str, Any]] = {
    "/activity/email/": {"status": "draft", "subject": "Hello"},
    "/task/": {"text": "Call"},
    "/contact/": {"name": "Jane"},
}


@pytest.mark.parametrize("path", NEW_FOR_LEAD)
async def test_something_made_for_a_lead_racing_its_deletion_is_a_400_on_lead_id(
    tenant: Tenant, database: Database, path: str
) -> None:
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], **NEW_FOR_LEAD[path]}
    creation = tenant.client.post(path, json=body)
    response = await during(database, removal(f"/lead/{lead['id']}/", Lead), creation)
    assert "lead_id" in field_errors(response)


async def test_a_thread_deletion_racing_another_is_a_404_and_records_nothing(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"])
    path = f"/activity/emailthread/{email['thread_id']}/"
    gone = delete(EmailThread).where(EmailThread.id == email["thread_id"])
    response = await during(database, gone, tenant.client.delete(path))
    assert response.status_code == 404, response.text
    assert await deleted_events(tenant, path) == 0


async def test_an_email_naming_a_contact_racing_its_deletion_is_a_400_on_contact_id(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client)
    contact_id = lead["contacts"][0]["id"]
    body = {"lead_id": lead["id"], "status": "draft", "contact_id": contact_id}
    creation = tenant.client.post("/activity/email/", json=body)
    response = await during(database, removal(f"/contact/{contact_id}/", Contact), creation)
    assert "contact_id" in field_errors(response)
