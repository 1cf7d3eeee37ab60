"""Deleting an email or a thread deletes its follow-up tasks and records a ``task.email_followup``
``deleted`` event for each, with the email's or thread's own events (§3)."""

from __future__ import annotations

from typing import Any

from postroom.db import Database
from tests.conftest import Tenant
from tests.helpers import add_followup, claim_as_a_worker, create_email, create_lead, ok

SENDER = "me@sender.example.com"
FOLLOWUP = "task.email_followup"


async def events(tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = ok(await tenant.client.get("/event/", params=params))["data"]
    return data


async def sent_with_followup(
    tenant: Tenant, database: Database, lead_id: str, **fields: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    email = await create_email(tenant.client, lead_id, status="sent", sender=SENDER, **fields)
    return email, await add_followup(tenant.client, database, email)


async def test_deleting_an_email_records_a_deleted_event_for_its_followup_task(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client)
    email, task = await sent_with_followup(tenant, database, lead["id"])
    ok(await tenant.client.delete(f"/activity/email/{email['id']}/"))
    [event] = await events(tenant, object_type=FOLLOWUP, action="deleted")
    assert (event["object_id"], event["lead_id"]) == (task["id"], lead["id"])
    assert (event["data"], event["previous_data"]) == (None, task)
    assert event["meta"]["request_method"] == "DELETE"
    assert (await tenant.client.get(f"/task/{task['id']}/")).status_code == 404


async def test_an_email_deletion_writes_its_events_together_email_thread_then_task(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client)
    email, task = await sent_with_followup(tenant, database, lead["id"])
    ok(await tenant.client.delete(f"/activity/email/{email['id']}/"))
    newest = [(e["object_type"], e["object_id"], e["action"]) for e in await events(tenant)]
    assert newest[:3] == [
        (FOLLOWUP, task["id"], "deleted"),
        ("activity.email_thread", email["thread_id"], "deleted"),
        ("activity.email", email["id"], "deleted"),
    ]
    [request_id] = {e["request_id"] for e in (await events(tenant))[:3]}
    assert request_id is not None


async def test_deleting_a_thread_records_a_deleted_event_for_each_followup_task(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client)
    first, first_task = await sent_with_followup(tenant, database, lead["id"])
    reply, reply_task = await sent_with_followup(
        tenant, database, lead["id"], in_reply_to_id=first["id"]
    )
    assert reply["thread_id"] == first["thread_id"]
    ok(await tenant.client.delete(f"/activity/emailthread/{first['thread_id']}/"))
    found = await events(tenant, object_type=FOLLOWUP, action="deleted")
    assert {event["object_id"]: event["previous_data"] for event in found} == {
        first_task["id"]: first_task,
        reply_task["id"]: reply_task,
    }
    newest = [(e["object_type"], e["action"]) for e in await events(tenant)][:5]
    assert newest == [
        (FOLLOWUP, "deleted"),
        (FOLLOWUP, "deleted"),
        ("activity.email_thread", "deleted"),
        ("activity.email", "deleted"),
        ("activity.email", "deleted"),
    ]


async def test_an_email_being_sent_keeps_its_followup_task_and_writes_no_event(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client, lead["id"], status="outbox", sender=SENDER, send_in=30
    )
    task = await add_followup(tenant.client, database, email)
    await claim_as_a_worker(database, email["id"])
    before = await events(tenant, lead_id=lead["id"])
    email_path = f"/activity/email/{email['id']}/"
    thread_path = f"/activity/emailthread/{email['thread_id']}/"
    for path in (email_path, thread_path):
        assert (await tenant.client.delete(path)).status_code == 400
    assert await events(tenant, lead_id=lead["id"]) == before
    assert ok(await tenant.client.get(f"/task/{task['id']}/")) == task
