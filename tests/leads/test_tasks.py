"""A lead's ``tasks``: its incomplete tasks, as the task API shows them.

Close: "When a lead is returned, its basic info as well as related tasks ... are included", and
(API changelog, 2024-06-07) "the Lead API ... only returns *incomplete* tasks in the "tasks"
field". Postroom used to answer ``tasks: []`` whatever the lead had.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from postroom.db import Database
from postroom.kit.datetimes import utcnow
from tests.conftest import Tenant
from tests.helpers import add_followup, create_email, create_lead, ok


async def create_task(client: httpx.AsyncClient, lead_id: str, **fields: Any) -> dict[str, Any]:
    return ok(await client.post("/task/", json={"lead_id": lead_id, "text": "Call", **fields}))


async def test_a_lead_shows_its_incomplete_tasks_as_the_task_api_does(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    first = await create_task(tenant.client, lead["id"], date="2030-01-01")
    second = await create_task(tenant.client, lead["id"])
    shown = ok(await tenant.client.get(f"/lead/{lead['id']}/"))["tasks"]
    assert shown == [
        ok(await tenant.client.get(f"/task/{first['id']}/")),
        ok(await tenant.client.get(f"/task/{second['id']}/")),
    ]


async def test_completed_tasks_and_other_leads_tasks_are_not_shown(tenant: Tenant) -> None:
    lead, other = await create_lead(tenant.client), await create_lead(tenant.client)
    await create_task(tenant.client, lead["id"], is_complete=True)
    completed_later = await create_task(tenant.client, lead["id"])
    ok(await tenant.client.put(f"/task/{completed_later['id']}/", json={"is_complete": True}))
    await create_task(tenant.client, other["id"])
    assert ok(await tenant.client.get(f"/lead/{lead['id']}/"))["tasks"] == []


async def test_a_new_lead_has_no_tasks(tenant: Tenant) -> None:
    assert (await create_lead(tenant.client))["tasks"] == []


async def test_follow_up_tasks_are_among_a_leads_tasks(tenant: Tenant, database: Database) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"], status="sent")
    followup = await add_followup(tenant.client, database, email)
    shown = ok(await tenant.client.get(f"/lead/{lead['id']}/"))["tasks"]
    assert [task["id"] for task in shown] == [followup["id"]]


async def test_each_lead_of_a_list_shows_its_own_tasks(tenant: Tenant) -> None:
    one, two = await create_lead(tenant.client), await create_lead(tenant.client)
    task_of_one = await create_task(tenant.client, one["id"])
    task_of_two = await create_task(tenant.client, two["id"])
    listed = ok(await tenant.client.get("/lead/"))["data"]
    tasks = {lead["id"]: [task["id"] for task in lead["tasks"]] for lead in listed}
    assert tasks == {one["id"]: [task_of_one["id"]], two["id"]: [task_of_two["id"]]}


async def test_a_put_answers_the_lead_with_its_tasks(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    task = await create_task(tenant.client, lead["id"])
    updated = ok(await tenant.client.put(f"/lead/{lead['id']}/", json={"name": "Renamed"}))
    assert [shown["id"] for shown in updated["tasks"]] == [task["id"]]


async def test_a_tasks_view_in_a_lead_is_the_callers(tenant: Tenant) -> None:
    """Due in 3 hours: in UTC a task of today (``inbox``) or tomorrow; seen from 14 hours
    ahead of UTC at most 24 hours later, so for an offset that puts it past the caller's
    midnight it is ``future`` there, as ``GET /task/{id}/`` says with the same offset."""
    lead = await create_lead(tenant.client)
    due = utcnow() + timedelta(hours=3)
    task = await create_task(tenant.client, lead["id"], date=due.isoformat())
    for offset in ("-12", "0", "5.5", "14"):
        headers = {"X-TZ-Offset": offset}
        shown = ok(await tenant.client.get(f"/lead/{lead['id']}/", headers=headers))["tasks"]
        alone = ok(await tenant.client.get(f"/task/{task['id']}/", headers=headers))
        assert [item["view"] for item in shown] == [alone["view"]]


async def test_a_lead_event_carries_its_tasks(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    task = await create_task(tenant.client, lead["id"])
    ok(await tenant.client.put(f"/lead/{lead['id']}/", json={"name": "Renamed"}))
    events = ok(
        await tenant.client.get(
            "/event/", params={"object_id": lead["id"], "action": "updated", "object_type": "lead"}
        )
    )["data"]
    assert [shown["id"] for shown in events[0]["data"]["tasks"]] == [task["id"]]
    assert [shown["id"] for shown in events[0]["previous_data"]["tasks"]] == [task["id"]]
