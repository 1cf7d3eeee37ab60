"""``organization_id`` in a create or update body names the caller's organization or is a 400
(``kit/tenancy``): leads (and their nested contacts), contacts, tasks, email templates,
webhooks and emails alike, with nothing created or changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import create_lead, field_errors, ok

REFUSED = {"organization_id": "Organization not found."}
WEBHOOK_URL = "https://93.184.216.34/hooks/tenancy"
"""A literal public address: no DNS lookup."""


@dataclass(frozen=True)
class Resource:
    path: str
    create: dict[str, Any]
    change: dict[str, Any]
    """An update body changing one field, and the field to read back."""


def resources(lead_id: str) -> dict[str, Resource]:
    return {
        "lead": Resource("/lead/", {"name": "Acme"}, {"name": "Renamed"}),
        "contact": Resource("/contact/", {"lead_id": lead_id, "name": "Jane"}, {"name": "Joan"}),
        "task": Resource("/task/", {"lead_id": lead_id, "text": "Call"}, {"text": "Write"}),
        "email_template": Resource(
            "/email_template/",
            {"name": "Intro", "subject": "Hi", "body": "<p>Hi</p>"},
            {"name": "Outro"},
        ),
        "webhook": Resource(
            "/webhook/",
            {"url": WEBHOOK_URL, "events": [{"object_type": "lead", "action": "created"}]},
            {"url": f"{WEBHOOK_URL}/2"},
        ),
        "email": Resource(
            "/activity/email/", {"lead_id": lead_id, "status": "draft"}, {"subject": "Changed"}
        ),
    }


KINDS = ["lead", "contact", "task", "email_template", "webhook", "email"]


async def resource(tenant: Tenant, kind: str) -> Resource:
    lead = await create_lead(tenant.client)
    return resources(lead["id"])[kind]


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in {200, 201}, response.text
    body: dict[str, Any] = response.json()
    return body


async def ids(tenant: Tenant, path: str) -> list[str]:
    return [item["id"] for item in ok(await tenant.client.get(path))["data"]]


@pytest.mark.parametrize("kind", KINDS)
async def test_create_naming_another_organization_is_a_400_and_creates_nothing(
    tenant: Tenant, other_tenant: Tenant, kind: str
) -> None:
    thing = await resource(tenant, kind)
    before = await ids(tenant, thing.path)
    for other in (other_tenant.organization_id, "orga_nobody", ""):
        body = {**thing.create, "organization_id": other}
        assert field_errors(await tenant.client.post(thing.path, json=body)) == REFUSED
    assert await ids(tenant, thing.path) == before
    assert await ids(other_tenant, thing.path) == []


@pytest.mark.parametrize("kind", KINDS)
async def test_create_naming_the_callers_organization_or_null_is_accepted(
    tenant: Tenant, kind: str
) -> None:
    thing = await resource(tenant, kind)
    for own in (tenant.organization_id, None):
        body = {**thing.create, "organization_id": own}
        made = created(await tenant.client.post(thing.path, json=body))
        assert made["organization_id"] == tenant.organization_id


@pytest.mark.parametrize("kind", KINDS)
async def test_update_naming_another_organization_is_a_400_and_changes_nothing(
    tenant: Tenant, other_tenant: Tenant, kind: str
) -> None:
    thing = await resource(tenant, kind)
    made = created(await tenant.client.post(thing.path, json=thing.create))
    path = f"{thing.path}{made['id']}/"
    before = ok(await tenant.client.get(path))
    body = {**thing.change, "organization_id": other_tenant.organization_id}
    assert field_errors(await tenant.client.put(path, json=body)) == REFUSED
    assert ok(await tenant.client.get(path)) == before


@pytest.mark.parametrize("kind", KINDS)
async def test_update_naming_the_callers_organization_is_accepted(
    tenant: Tenant, kind: str
) -> None:
    thing = await resource(tenant, kind)
    made = created(await tenant.client.post(thing.path, json=thing.create))
    body = {**thing.change, "organization_id": tenant.organization_id}
    updated = ok(await tenant.client.put(f"{thing.path}{made['id']}/", json=body))
    [(name, value)] = thing.change.items()
    assert updated[name] == value


async def test_nested_contact_naming_another_organization_creates_no_lead(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    contact = {"name": "Jane", "organization_id": other_tenant.organization_id}
    response = await tenant.client.post("/lead/", json={"name": "Acme", "contacts": [contact]})
    assert field_errors(response) == {"contacts": "Organization not found."}
    assert await ids(tenant, "/lead/") == []
    assert await ids(tenant, "/contact/") == []


async def test_lead_posted_back_whole_is_accepted(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    updated = ok(await tenant.client.put(f"/lead/{lead['id']}/", json=lead))
    assert updated["organization_id"] == tenant.organization_id
    assert updated["contacts"] == lead["contacts"]


@pytest.mark.parametrize("kind", KINDS)
async def test_an_update_naming_no_organization_or_the_callers_changes_nothing(
    tenant: Tenant, kind: str
) -> None:
    """``organization_id`` is checked, never stored: ``null`` or one's own id changes nothing
    (``null`` once set a task's organization to null), and a PUT that changes nothing is no
    update: no new ``date_updated``, no ``updated`` event."""
    thing = await resource(tenant, kind)
    made = created(await tenant.client.post(thing.path, json=thing.create))
    path = f"{thing.path}{made['id']}/"
    shown = ok(await tenant.client.get(path))
    logged = ok(await tenant.client.get("/event/", params={"object_id": made["id"]}))["data"]
    for own in (None, tenant.organization_id):
        ok(await tenant.client.put(path, json={"organization_id": own}))
        ok(await tenant.client.put(path, json={**shown, "organization_id": own}))
        assert ok(await tenant.client.get(path)) == shown
    again = ok(await tenant.client.get("/event/", params={"object_id": made["id"]}))["data"]
    assert again == logged


@pytest.mark.parametrize("kind", KINDS)
async def test_an_update_that_changes_a_field_is_still_an_update(tenant: Tenant, kind: str) -> None:
    thing = await resource(tenant, kind)
    made = created(await tenant.client.post(thing.path, json=thing.create))
    path = f"{thing.path}{made['id']}/"
    changed = ok(await tenant.client.put(path, json=thing.change))
    [(field, value)] = thing.change.items()
    assert changed[field] == value
    assert changed["date_updated"] > made["date_updated"]
