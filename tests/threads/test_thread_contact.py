"""A thread's ``contact_id`` is the contact of the email that started it (docs/decisions.md,
"Conversations"), so the thread list's ``contact_id`` filter finds it by that contact, also
after a ``PUT`` gives the draft that started it another contact."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, ok
from tests.threads.test_thread_events import shown, thread_events

SENDER = "me@sender.example.com"
BUYER = "buyer@acme.example.com"


async def lead_with_two_contacts(tenant: Tenant) -> tuple[str, str, str]:
    contacts = [{"name": "Ann", "emails": []}, {"name": "Bob", "emails": []}]
    lead = await create_lead(tenant.client, contacts=contacts)
    ann, bob = (contact["id"] for contact in lead["contacts"])
    return lead["id"], ann, bob


async def draft(tenant: Tenant, lead_id: str, **fields: Any) -> dict[str, Any]:
    return await create_email(tenant.client, lead_id, status="draft", sender=SENDER, **fields)


async def put(tenant: Tenant, email_id: str, **fields: Any) -> dict[str, Any]:
    return ok(await tenant.client.put(f"/activity/email/{email_id}/", json=fields))


async def listed(tenant: Tenant, contact_id: str) -> list[str]:
    page = ok(await tenant.client.get("/activity/emailthread/", params={"contact_id": contact_id}))
    return [thread["id"] for thread in page["data"]]


async def test_a_thread_follows_the_contact_its_starting_draft_is_given(tenant: Tenant) -> None:
    lead_id, ann, bob = await lead_with_two_contacts(tenant)
    email = await draft(tenant, lead_id, contact_id=ann)
    await put(tenant, email["id"], contact_id=bob)
    assert (await shown(tenant, email["thread_id"]))["contact_id"] == bob
    assert await listed(tenant, bob) == [email["thread_id"]]
    assert await listed(tenant, ann) == []


async def test_a_thread_takes_the_contact_set_on_its_starting_draft_later(
    tenant: Tenant,
) -> None:
    lead_id, ann, _ = await lead_with_two_contacts(tenant)
    email = await draft(tenant, lead_id)
    await put(tenant, email["id"], contact_id=ann)
    assert await listed(tenant, ann) == [email["thread_id"]]
    await put(tenant, email["id"], contact_id=None)
    assert (await shown(tenant, email["thread_id"]))["contact_id"] is None


async def test_a_reply_given_another_contact_leaves_the_threads_contact(tenant: Tenant) -> None:
    lead_id, ann, bob = await lead_with_two_contacts(tenant)
    first = await create_email(
        tenant.client, lead_id, status="sent", sender=SENDER, to=[BUYER], contact_id=ann
    )
    reply = await draft(tenant, lead_id, in_reply_to_id=first["id"], contact_id=ann)
    await put(tenant, reply["id"], contact_id=bob)
    assert (await shown(tenant, first["thread_id"]))["contact_id"] == ann


async def test_a_threads_new_contact_is_its_updated_event(tenant: Tenant) -> None:
    lead_id, ann, bob = await lead_with_two_contacts(tenant)
    email = await draft(tenant, lead_id, contact_id=ann)
    before = await shown(tenant, email["thread_id"])
    await put(tenant, email["id"], contact_id=bob)
    [event] = await thread_events(tenant, email["thread_id"], "updated")
    assert event["data"] == await shown(tenant, email["thread_id"])
    assert event["previous_data"]["contact_id"] == before["contact_id"] == ann
    assert {"contact_id", "date_updated", "emails"} <= set(event["changed_fields"])
