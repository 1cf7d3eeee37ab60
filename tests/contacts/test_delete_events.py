"""Deleting a contact keeps its emails, threads and tasks with ``contact_id`` null, and records
an ``updated`` event for each of them, so mirrors fed by ``/event/`` or webhooks follow (§3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from postroom.db import Database
from postroom.emails import repository as email_repository
from tests.conftest import Tenant
from tests.helpers import add_followup, create_email, create_lead, ok

TWO_CONTACTS = [
    {"name": "Jane Doe", "emails": [{"email": "jane@acme.example.com"}]},
    {"name": "John Roe", "emails": [{"email": "john@acme.example.com"}]},
]
FOLLOWUP = "task.email_followup"

BOOKKEEPING = {"date_updated", "updated_by", "updated_by_name"}
"""Fields an update changes beside what it is about (listed in changed_fields, as Close does)."""


async def events(tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = ok(await tenant.client.get("/event/", params=params))["data"]
    return data


async def lead_with_emails(tenant: Tenant) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """A lead, its first contact's id, two emails of that contact, one of the other contact."""
    lead = await create_lead(tenant.client, contacts=TWO_CONTACTS)
    [jane, john] = [contact["id"] for contact in lead["contacts"]]
    janes = [
        await create_email(tenant.client, lead["id"], contact_id=jane, subject=subject)
        for subject in ("One", "Two")
    ]
    johns = await create_email(tenant.client, lead["id"], contact_id=john, subject="Three")
    return jane, janes, johns


async def test_deleting_a_contact_records_an_updated_event_for_each_of_its_emails(
    tenant: Tenant,
) -> None:
    jane, janes, johns = await lead_with_emails(tenant)
    ok(await tenant.client.delete(f"/contact/{jane}/"))
    found = await events(tenant, object_type="activity.email", action="updated")
    assert sorted(event["object_id"] for event in found) == sorted(e["id"] for e in janes)
    for event in found:
        shown = ok(await tenant.client.get(f"/activity/email/{event['object_id']}/"))
        assert event["data"] == shown
        assert event["data"]["contact_id"] is None
        assert set(event["changed_fields"]) - BOOKKEEPING == {"contact_id"}
        assert "date_updated" in event["changed_fields"]
        assert event["previous_data"]["contact_id"] == jane
        assert event["meta"]["request_method"] == "DELETE"
    assert ok(await tenant.client.get(f"/activity/email/{johns['id']}/")) == johns


async def test_a_contact_of_more_emails_than_a_chunk_records_each_update_once(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emails are released a chunk at a time; every one of them, once, in activity order."""
    monkeypatch.setattr(email_repository, "EMAIL_CHUNK", 2)
    lead = await create_lead(tenant.client, contacts=TWO_CONTACTS)
    jane = lead["contacts"][0]["id"]
    janes = [
        await create_email(tenant.client, lead["id"], contact_id=jane, subject=f"S{n}")
        for n in range(5)
    ]
    ok(await tenant.client.delete(f"/contact/{jane}/"))
    found = await events(tenant, object_type="activity.email", action="updated")
    assert [event["object_id"] for event in reversed(found)] == [e["id"] for e in janes]
    for email in janes:
        assert ok(await tenant.client.get(f"/activity/email/{email['id']}/"))["contact_id"] is None
    [deleted] = await events(tenant, object_type="contact", action="deleted")
    assert deleted["date_created"] > found[0]["date_created"]


async def test_an_email_whose_contact_is_deleted_shows_it_was_updated(tenant: Tenant) -> None:
    jane, [email, _], _ = await lead_with_emails(tenant)
    ok(await tenant.client.delete(f"/contact/{jane}/"))
    kept = ok(await tenant.client.get(f"/activity/email/{email['id']}/"))
    assert datetime.fromisoformat(kept["date_updated"]) > datetime.fromisoformat(
        email["date_updated"]
    )
    assert kept["updated_by"] == tenant.user_id
    assert {**kept, "contact_id": jane} == {
        **email,
        "date_updated": kept["date_updated"],
        "updated_by_name": kept["updated_by_name"],
    }


async def test_deleting_a_contact_records_an_updated_event_for_its_threads(
    tenant: Tenant,
) -> None:
    jane, janes, johns = await lead_with_emails(tenant)
    ok(await tenant.client.delete(f"/contact/{jane}/"))
    found = await events(tenant, object_type="activity.email_thread", action="updated")
    assert sorted(event["object_id"] for event in found) == sorted(e["thread_id"] for e in janes)
    for event in found:
        shown = ok(await tenant.client.get(f"/activity/emailthread/{event['object_id']}/"))
        assert event["data"] == shown
        assert event["data"]["contact_id"] is None
        assert set(event["changed_fields"]) - BOOKKEEPING == {"contact_id", "emails"}
        assert event["previous_data"]["contact_id"] == jane
    thread = ok(await tenant.client.get(f"/activity/emailthread/{johns['thread_id']}/"))
    assert thread["contact_id"] == johns["contact_id"]


async def test_a_contact_deletion_writes_the_updates_before_the_contacts_own_event(
    tenant: Tenant,
) -> None:
    jane, janes, _ = await lead_with_emails(tenant)
    ok(await tenant.client.delete(f"/contact/{jane}/"))
    newest = [(e["object_type"], e["action"], e["request_id"]) for e in await events(tenant)]
    assert [kind[:2] for kind in newest[:2]] == [("lead", "updated"), ("contact", "deleted")]
    assert sorted(kind for kind, _, _ in newest[2:6]) == [
        "activity.email", "activity.email", "activity.email_thread", "activity.email_thread",
    ]  # fmt: skip
    assert len({request_id for _, _, request_id in newest[:6]}) == 1


async def lead_with_followups(
    tenant: Tenant, database: Database
) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """As ``lead_with_emails``, each email with its follow-up task (naming the email's
    contact): the first contact's id, its two tasks, the other contact's task."""
    jane, janes, johns = await lead_with_emails(tenant)
    tasks = [await add_followup(tenant.client, database, email) for email in [*janes, johns]]
    assert [task["contact_id"] for task in tasks] == [jane, jane, johns["contact_id"]]
    return jane, tasks[:2], tasks[2]


async def test_deleting_a_contact_records_an_updated_event_for_each_of_its_tasks(
    tenant: Tenant, database: Database
) -> None:
    jane, janes, johns = await lead_with_followups(tenant, database)
    ok(await tenant.client.delete(f"/contact/{jane}/"))
    found = await events(tenant, object_type=FOLLOWUP, action="updated")
    assert sorted(event["object_id"] for event in found) == sorted(t["id"] for t in janes)
    for event in found:
        shown = ok(await tenant.client.get(f"/task/{event['object_id']}/"))
        assert event["data"] == shown
        assert event["data"]["contact_id"] is None
        assert set(event["changed_fields"]) - BOOKKEEPING == {"contact_id"}
        assert "date_updated" in event["changed_fields"]
        assert event["previous_data"]["contact_id"] == jane
        assert event["meta"]["request_method"] == "DELETE"
    assert ok(await tenant.client.get(f"/task/{johns['id']}/")) == johns


async def test_a_task_whose_contact_is_deleted_shows_it_was_updated(
    tenant: Tenant, database: Database
) -> None:
    jane, [task, _], _ = await lead_with_followups(tenant, database)
    ok(await tenant.client.delete(f"/contact/{jane}/"))
    kept = ok(await tenant.client.get(f"/task/{task['id']}/"))
    assert kept["contact_id"] is None
    assert datetime.fromisoformat(kept["date_updated"]) > datetime.fromisoformat(
        task["date_updated"]
    )
    assert (task["updated_by"], kept["updated_by"]) == (None, tenant.user_id)
    assert {**kept, "contact_id": jane} == {
        **task,
        "date_updated": kept["date_updated"],
        "updated_by": kept["updated_by"],
    }


async def test_a_contact_deletion_writes_the_task_updates_after_the_emails_and_threads(
    tenant: Tenant, database: Database
) -> None:
    jane, _, _ = await lead_with_followups(tenant, database)
    ok(await tenant.client.delete(f"/contact/{jane}/"))
    newest = [(e["object_type"], e["action"], e["request_id"]) for e in await events(tenant)]
    assert [kind for kind, _, _ in newest[:8]] == [
        "lead", "contact", FOLLOWUP, FOLLOWUP, "activity.email_thread", "activity.email_thread",
        "activity.email", "activity.email",
    ]  # fmt: skip
    assert len({request_id for _, _, request_id in newest[:8]}) == 1
