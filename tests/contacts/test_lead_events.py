"""A contact's creation or deletion is an event of its lead too. Close's list of event types
(developer.close.com, Event Log, List of Event Types): ``lead`` ``created`` "a lead is
created in your organization (regardless of the method)"; ``lead`` ``updated`` is triggered
when "a contact is added or removed (the ``contact_ids`` list of the lead changes)", and not
by "updates to existing contacts"."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant
from tests.helpers import create_lead, ok


async def lead_events(tenant: Tenant, lead_id: str) -> list[dict[str, Any]]:
    params = {"object_type": "lead", "object_id": lead_id}
    events: list[dict[str, Any]] = ok(await tenant.client.get("/event/", params=params))["data"]
    return events


async def test_a_contact_posted_without_a_lead_records_its_new_leads_created_event(
    tenant: Tenant,
) -> None:
    contact = ok(
        await tenant.client.post(
            "/contact/", json={"name": "Solo", "emails": [{"email": "solo@example.com"}]}
        )
    )
    [created] = await lead_events(tenant, contact["lead_id"])
    assert created["action"] == "created"
    assert created["lead_id"] == contact["lead_id"]
    assert created["data"] == ok(await tenant.client.get(f"/lead/{contact['lead_id']}/"))
    assert created["data"]["contact_ids"] == [contact["id"]]
    newest = ok(await tenant.client.get("/event/", params={"lead_id": contact["lead_id"]}))
    kinds = [(event["object_type"], event["action"]) for event in newest["data"]]
    assert kinds == [("contact", "created"), ("lead", "created")]


async def test_adding_a_contact_to_a_lead_records_a_lead_updated_event(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    contact = ok(
        await tenant.client.post(
            "/contact/", json={"lead_id": lead["id"], "name": "Ann", "emails": []}
        )
    )
    [updated, _] = await lead_events(tenant, lead["id"])
    assert updated["action"] == "updated"
    assert updated["data"] == ok(await tenant.client.get(f"/lead/{lead['id']}/"))
    assert updated["data"]["contact_ids"] == [*lead["contact_ids"], contact["id"]]
    assert {"contact_ids", "contacts", "date_updated"} <= set(updated["changed_fields"])
    assert updated["previous_data"]["contact_ids"] == lead["contact_ids"]
    assert updated["previous_data"]["date_updated"] == lead["date_updated"]


async def test_deleting_a_contact_records_a_lead_updated_event_after_its_own(
    tenant: Tenant,
) -> None:
    lead = await create_lead(tenant.client)
    [contact_id] = lead["contact_ids"]
    ok(await tenant.client.delete(f"/contact/{contact_id}/"))
    newest = ok(await tenant.client.get("/event/", params={"lead_id": lead["id"]}))["data"]
    assert [(event["object_type"], event["action"]) for event in newest[:2]] == [
        ("lead", "updated"),
        ("contact", "deleted"),
    ]
    updated = newest[0]
    assert updated["data"] == ok(await tenant.client.get(f"/lead/{lead['id']}/"))
    assert updated["data"]["contact_ids"] == []
    assert updated["previous_data"]["contact_ids"] == [contact_id]


async def test_updating_a_contact_is_no_lead_event(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    [contact_id] = lead["contact_ids"]
    ok(await tenant.client.put(f"/contact/{contact_id}/", json={"title": "CEO"}))
    assert [event["action"] for event in await lead_events(tenant, lead["id"])] == ["created"]
