"""Unsubscribing and resubscribing are in the event log as ``unsubscribed_email`` events."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Tenant
from tests.helpers import ok

ADDRESS = "jane@acme.example.com"


async def unsubscribed_events(tenant: Tenant) -> list[dict[str, Any]]:
    page = ok(await tenant.client.get("/event/", params={"object_type": "unsubscribed_email"}))
    return list(reversed(page["data"]))  # oldest first


async def test_unsubscribe_and_resubscribe_record_created_and_deleted(tenant: Tenant) -> None:
    created = await tenant.client.post("/unsubscribe/email/", json={"email": ADDRESS})
    item = created.json()
    ok(await tenant.client.delete(f"/unsubscribe/email/{ADDRESS}/"))
    events = await unsubscribed_events(tenant)
    assert [(e["action"], e["object_id"], e["data"] or e["previous_data"]) for e in events] == [
        ("created", item["id"], item),
        ("deleted", item["id"], item),
    ]
    assert events[1]["data"] is None
    assert {event["lead_id"] for event in events} == {None}
    assert {event["user_id"] for event in events} == {tenant.user_id}


async def test_unsubscribing_an_address_already_listed_records_nothing(tenant: Tenant) -> None:
    for _ in range(2):
        await tenant.client.post("/unsubscribe/email/", json={"email": ADDRESS})
    assert [event["action"] for event in await unsubscribed_events(tenant)] == ["created"]


async def test_resubscribing_at_the_same_moment_succeeds_once_with_one_event(
    tenant: Tenant,
) -> None:
    """Ten parallel DELETEs of one address: one 200 and one ``deleted`` event; the others
    find it gone (404). On PostgreSQL each used to answer 200 and record its own event."""
    await tenant.client.post("/unsubscribe/email/", json={"email": ADDRESS})
    responses = await asyncio.gather(
        *(tenant.client.delete(f"/unsubscribe/email/{ADDRESS}/") for _ in range(10))
    )
    assert sorted(response.status_code for response in responses) == [200] + [404] * 9
    assert [event["action"] for event in await unsubscribed_events(tenant)] == [
        "created",
        "deleted",
    ]


async def test_a_contact_posted_unsubscribed_records_the_address_created(tenant: Tenant) -> None:
    emails = [{"email": ADDRESS, "is_unsubscribed": True}]
    ok(await tenant.client.post("/contact/", json={"name": "Jane", "emails": emails}))
    events = await unsubscribed_events(tenant)
    assert [(e["action"], e["data"]["email"]) for e in events] == [("created", ADDRESS)]
