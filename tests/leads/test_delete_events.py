"""Deleting a lead records a ``deleted`` event for everything it removes (§3: each email emits
``activity.email`` ``deleted``; deleting a lead deletes its contacts, emails and tasks)."""

from __future__ import annotations

from typing import Any

import pytest

from postroom.db import Database
from postroom.emails import repository as email_repository
from tests.conftest import Tenant
from tests.helpers import claim_as_a_worker, create_email, create_lead, ok

SENDER = "me@sender.example.com"
TWO_CONTACTS = [
    {"name": "Jane Doe", "emails": [{"email": "jane@acme.example.com"}]},
    {"name": "John Roe", "emails": [{"email": "john@acme.example.com"}]},
]


async def events(tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = ok(await tenant.client.get("/event/", params=params))["data"]
    return data


async def emails_in_two_threads(tenant: Tenant, lead_id: str) -> list[dict[str, Any]]:
    """A sent email and a reply to it (one thread), and a draft of its own (another)."""
    first = await create_email(tenant.client, lead_id, status="sent", sender=SENDER)
    reply = await create_email(
        tenant.client, lead_id, status="draft", sender=SENDER, in_reply_to_id=first["id"]
    )
    other = await create_email(tenant.client, lead_id, subject="Other")
    assert reply["thread_id"] == first["thread_id"] != other["thread_id"]
    return [first, reply, other]


async def read_back(tenant: Tenant, emails: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The emails as the API shows them now, by id."""
    return {e["id"]: ok(await tenant.client.get(f"/activity/email/{e['id']}/")) for e in emails}


async def test_deleting_a_lead_records_a_deleted_event_for_each_of_its_emails(
    tenant: Tenant,
) -> None:
    lead = await create_lead(tenant.client)
    shown = await read_back(tenant, await emails_in_two_threads(tenant, lead["id"]))
    ok(await tenant.client.delete(f"/lead/{lead['id']}/"))
    found = await events(tenant, object_type="activity.email", action="deleted")
    assert sorted(event["object_id"] for event in found) == sorted(shown)
    for event in found:
        assert event["lead_id"] == lead["id"]
        assert event["previous_data"] == shown[event["object_id"]]
        assert event["meta"]["request_method"] == "DELETE"


async def test_a_lead_of_more_emails_than_a_chunk_records_each_deletion_once(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emails' events are written a chunk at a time: every email once, in activity order,
    all before the lead's own event."""
    monkeypatch.setattr(email_repository, "EMAIL_CHUNK", 2)
    lead = await create_lead(tenant.client)
    emails = [await create_email(tenant.client, lead["id"], subject=f"S{n}") for n in range(5)]
    shown = await read_back(tenant, emails)
    ok(await tenant.client.delete(f"/lead/{lead['id']}/"))
    found = await events(tenant, object_type="activity.email", action="deleted")
    assert [event["object_id"] for event in reversed(found)] == [e["id"] for e in emails]
    assert all(event["previous_data"] == shown[event["object_id"]] for event in found)
    [lead_event] = await events(tenant, object_type="lead", action="deleted")
    assert lead_event["date_created"] > found[0]["date_created"]


async def test_a_refused_lead_deletion_of_many_emails_writes_no_event(
    tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks already written are rolled back with the rest when an email is being sent."""
    monkeypatch.setattr(email_repository, "EMAIL_CHUNK", 2)
    lead = await create_lead(tenant.client)
    for n in range(4):
        await create_email(tenant.client, lead["id"], subject=f"S{n}")
    queued = await create_email(
        tenant.client, lead["id"], status="outbox", sender=SENDER, send_in=30
    )
    await claim_as_a_worker(database, queued["id"])
    before = await events(tenant, lead_id=lead["id"])
    assert (await tenant.client.delete(f"/lead/{lead['id']}/")).status_code == 400
    assert await events(tenant, lead_id=lead["id"]) == before


async def test_a_lead_deletion_event_is_shaped_like_a_single_email_deletion(
    tenant: Tenant,
) -> None:
    lead = await create_lead(tenant.client)
    [by_lead, by_itself] = [await create_email(tenant.client, lead["id"]) for _ in range(2)]
    ok(await tenant.client.delete(f"/activity/email/{by_itself['id']}/"))
    ok(await tenant.client.delete(f"/lead/{lead['id']}/"))
    [single] = await events(tenant, object_id=by_itself["id"], action="deleted")
    [cascaded] = await events(tenant, object_id=by_lead["id"], action="deleted")
    assert set(cascaded) == set(single)
    assert set(cascaded["previous_data"]) == set(single["previous_data"])
    assert (cascaded["changed_fields"], cascaded["data"]) == ([], None)


async def test_deleting_a_lead_records_deleted_events_for_its_threads_tasks_and_contacts(
    tenant: Tenant,
) -> None:
    lead = await create_lead(tenant.client, contacts=TWO_CONTACTS)
    emails = await emails_in_two_threads(tenant, lead["id"])
    task = ok(await tenant.client.post("/task/", json={"lead_id": lead["id"], "text": "Call"}))
    ok(await tenant.client.delete(f"/lead/{lead['id']}/"))
    found = await events(tenant, lead_id=lead["id"], action="deleted")
    deleted = {(event["object_type"], event["object_id"]) for event in found}
    assert deleted == {
        *(("activity.email", email["id"]) for email in emails),
        *(("activity.email_thread", email["thread_id"]) for email in emails),
        ("task.lead", task["id"]),
        *(("contact", contact["id"]) for contact in lead["contacts"]),
        ("lead", lead["id"]),
    }
    assert len(found) == len(deleted)
    assert (found[0]["object_type"], found[0]["object_id"]) == ("lead", lead["id"])
    [task_event] = [event for event in found if event["object_id"] == task["id"]]
    assert task_event["previous_data"] == task


async def test_a_lead_whose_email_is_being_sent_is_kept_with_no_event(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client)
    draft = await create_email(tenant.client, lead["id"])
    queued = await create_email(
        tenant.client, lead["id"], status="outbox", sender=SENDER, send_in=30
    )
    await claim_as_a_worker(database, queued["id"])
    before = await events(tenant, lead_id=lead["id"])
    response = await tenant.client.delete(f"/lead/{lead['id']}/")
    assert response.status_code == 400
    assert await events(tenant, lead_id=lead["id"]) == before
    assert ok(await tenant.client.get(f"/lead/{lead['id']}/"))["id"] == lead["id"]
    for email in (draft, queued):
        assert (await tenant.client.get(f"/activity/email/{email['id']}/")).status_code == 200
