"""A list filter sent repeated (``lead_id=A&lead_id=B``, what ``requests`` and so the official
client send for a Python list) is every value sent, as if comma-separated, on every list whose
filter takes several values: threads, tasks (listed and bulk-updated) and contacts, as on the
email lists (``tests/emails/test_list.py``)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, ok


async def two_leads(tenant: Tenant) -> list[dict[str, Any]]:
    return [await create_lead(tenant.client, name=name) for name in ("A", "B")]


async def listed_ids(tenant: Tenant, path: str, params: dict[str, Any]) -> set[str]:
    page = ok(await tenant.client.get(path, params=params))
    return {item["id"] for item in page["data"]}


async def test_threads_of_two_leads(tenant: Tenant) -> None:
    leads = await two_leads(tenant)
    emails = [await create_email(tenant.client, lead["id"]) for lead in leads]
    threads = {email["thread_id"] for email in emails}
    lead_ids = [lead["id"] for lead in leads]
    assert await listed_ids(tenant, "/activity/emailthread/", {"lead_id": lead_ids}) == threads
    assert await listed_ids(tenant, "/activity/emailthread/", {"id__in": list(threads)}) == threads


async def test_tasks_of_two_leads_listed_and_updated(tenant: Tenant) -> None:
    leads = await two_leads(tenant)
    tasks = [
        ok(await tenant.client.post("/task/", json={"lead_id": lead["id"], "text": "Call"}))
        for lead in leads
    ]
    task_ids = {task["id"] for task in tasks}
    lead_ids = [lead["id"] for lead in leads]
    assert await listed_ids(tenant, "/task/", {"lead_id": lead_ids}) == task_ids
    assert await listed_ids(tenant, "/task/", {"id__in": list(task_ids)}) == task_ids
    params = {"lead_id": lead_ids, "_type": ["lead", "email_followup"]}
    assert await listed_ids(tenant, "/task/", params) == task_ids
    ok(
        await tenant.client.put(
            "/task/", params={"id__in": list(task_ids)}, json={"is_complete": True}
        )
    )
    done = {"id__in": list(task_ids), "is_complete": "true"}
    assert await listed_ids(tenant, "/task/", done) == task_ids


async def test_contacts_of_two_leads(tenant: Tenant) -> None:
    leads = await two_leads(tenant)
    contacts = {contact["id"] for lead in leads for contact in lead["contacts"]}
    lead_ids = [lead["id"] for lead in leads]
    assert await listed_ids(tenant, "/contact/", {"lead_id": lead_ids}) == contacts
    assert await listed_ids(tenant, "/contact/", {"lead_id": [lead_ids[0], ""]}) == {
        leads[0]["contacts"][0]["id"]
    }
