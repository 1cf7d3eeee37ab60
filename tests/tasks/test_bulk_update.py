"""Close's bulk task update, ``PUT /task/``, over HTTP (§3; ``docs/decisions.md``, Tasks)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from postroom.db import Database
from postroom.tasks import bulk
from tests.conftest import Tenant
from tests.helpers import create_lead, field_errors, ok
from tests.tasks.test_router import FUTURE, PAST, create_task, followup_task, lead_task

LATER = "2031-05-06T07:08:09.000000+00:00"


async def bulk_put(tenant: Tenant, params: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return await tenant.client.put("/task/", params=params, json=body)


async def read(tenant: Tenant, task: dict[str, Any]) -> dict[str, Any]:
    return ok(await tenant.client.get(f"/task/{task['id']}/"))


async def task_events(tenant: Tenant, task: dict[str, Any]) -> list[dict[str, Any]]:
    params = {"object_type": f"task.{task['_type']}", "object_id": task["id"]}
    events: list[dict[str, Any]] = ok(await tenant.client.get("/event/", params=params))["data"]
    return events


async def every_task(tenant: Tenant) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = ok(await tenant.client.get("/task/?_type=all"))["data"]
    return data


async def test_id_in_completes_those_tasks_and_answers_an_empty_object(tenant: Tenant) -> None:
    first, second, third = [await lead_task(tenant) for _ in range(3)]
    response = await bulk_put(
        tenant, {"id__in": f"{first['id']},{second['id']}"}, {"is_complete": True}
    )
    assert ok(response) == {}
    done = [(await read(tenant, task))["is_complete"] for task in (first, second, third)]
    assert done == [True, True, False]


async def test_lead_id_filter_chooses_that_leads_tasks(tenant: Tenant) -> None:
    task = await lead_task(tenant)
    other = await lead_task(tenant)
    ok(await bulk_put(tenant, {"lead_id": task["lead_id"]}, {"date": FUTURE}))
    assert (await read(tenant, task))["date"] == FUTURE
    assert await read(tenant, other) == other


async def test_is_complete_filter_reopens_only_the_completed_tasks(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    done = await create_task(tenant.client, lead["id"], is_complete=True, date=PAST)
    open_task = await create_task(tenant.client, lead["id"], date=PAST)
    params = {"lead_id": lead["id"], "is_complete": "true"}
    ok(await bulk_put(tenant, params, {"is_complete": False, "date": FUTURE}))
    assert (await read(tenant, done))["is_complete"] is False
    assert (await read(tenant, done))["date"] == FUTURE
    assert await read(tenant, open_task) == open_task


async def test_only_the_fields_sent_change(tenant: Tenant, colleague: Tenant) -> None:
    task = await lead_task(tenant, date=PAST)
    ok(await bulk_put(tenant, {"id": task["id"]}, {"assigned_to": colleague.user_id}))
    after = await read(tenant, task)
    assert (after["assigned_to"], after["assigned_to_name"]) == (colleague.user_id, "Colin League")
    unchanged = ("text", "date", "is_complete", "lead_id", "created_by", "date_created")
    assert {name: after[name] for name in unchanged} == {name: task[name] for name in unchanged}
    assert after["date_updated"] > task["date_updated"]


async def test_a_naive_date_follows_x_tz_offset_as_in_a_tasks_put(tenant: Tenant) -> None:
    task = await lead_task(tenant)
    headers = {"X-TZ-Offset": "2.0"}
    response = await tenant.client.put(
        "/task/", params={"id": task["id"]}, json={"date": "2031-05-06"}, headers=headers
    )
    ok(response)
    assert (await read(tenant, task))["date"] == "2031-05-05T22:00:00.000000+00:00"


async def test_each_changed_task_records_the_event_of_its_own_put(
    tenant: Tenant, colleague: Tenant
) -> None:
    bulked, single = await lead_task(tenant, date=PAST), await lead_task(tenant, date=PAST)
    body = {"date": LATER, "is_complete": True}
    ok(await bulk_put(colleague, {"id": bulked["id"]}, body))
    ok(await colleague.client.put(f"/task/{single['id']}/", json=body))
    [bulk_event, _created] = await task_events(tenant, bulked)
    [put_event, _created] = await task_events(tenant, single)
    assert bulk_event["action"] == put_event["action"] == "completed"
    assert bulk_event["changed_fields"] == put_event["changed_fields"]
    assert bulk_event["changed_fields"] == [
        "date", "date_updated", "due_date", "is_complete", "updated_by", "view",
    ]  # fmt: skip
    assert bulk_event["previous_data"] == {
        "date": PAST, "date_updated": bulked["date_updated"], "due_date": PAST,
        "is_complete": False, "updated_by": tenant.user_id, "view": "inbox",
    }  # fmt: skip
    assert bulk_event["data"] == await read(tenant, bulked)
    assert bulk_event["user_id"] == colleague.user_id


async def test_tasks_already_holding_the_values_are_left_alone(tenant: Tenant) -> None:
    done = await lead_task(tenant, is_complete=True)
    open_task = await lead_task(tenant)
    params = {"id__in": f"{done['id']},{open_task['id']}"}
    ok(await bulk_put(tenant, params, {"is_complete": True}))
    assert await read(tenant, done) == done
    assert [event["action"] for event in await task_events(tenant, done)] == ["created"]
    assert [e["action"] for e in await task_events(tenant, open_task)] == ["completed", "created"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"_type": "chore"}, "_type"),
        ({"view": "someday"}, "view"),
        ({"date__gt": "tomorrow"}, "date__gt"),
        ({"_order_by": "text"}, "_order_by"),
        ({"format": "csv"}, "format"),
        ({"is_complete": "maybe"}, "is_complete"),
        ({"organization_id": "orga_other"}, "organization_id"),
        ({"lead": "lead_x"}, "lead"),
        ({"lead_id": "lead_x", "_limit": "1"}, "_limit"),
    ],
)
async def test_a_bad_or_unknown_filter_is_a_400_naming_it_and_changes_nothing(
    tenant: Tenant, params: dict[str, str], named: str
) -> None:
    task = await lead_task(tenant)
    response = await bulk_put(tenant, params, {"is_complete": True})
    assert named in field_errors(response)
    assert await every_task(tenant) == [task]
    assert len(await task_events(tenant, task)) == 1


@pytest.mark.parametrize("params", [{}, {"lead_id": ""}, {"id__in": " , "}, {"_fields": "id"}])
async def test_a_bulk_update_without_a_filter_is_a_400_and_changes_nothing(
    tenant: Tenant, params: dict[str, str]
) -> None:
    task = await lead_task(tenant)
    response = await bulk_put(tenant, params, {"is_complete": True})
    assert field_errors(response) == {}
    assert "at least one filter" in response.json()["errors"][0]
    assert await every_task(tenant) == [task]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"text": "Call again", "is_complete": True}, "text"),
        ({"priority": "high"}, "priority"),
        ({"organization_id": "orga_x", "is_complete": True}, "organization_id"),
        ({"is_complete": "yes"}, "is_complete"),
        ({"date": "not a date"}, "date"),
        ({"assigned_to": None}, "assigned_to"),
        ({"assigned_to": "user_nobody"}, "assigned_to"),
    ],
)
async def test_a_bad_body_is_a_400_naming_the_field_and_changes_nothing(
    tenant: Tenant, body: dict[str, Any], named: str
) -> None:
    task = await lead_task(tenant)
    assert named in field_errors(await bulk_put(tenant, {"id": task["id"]}, body))
    assert await every_task(tenant) == [task]


@pytest.mark.parametrize("content", [b"{}", b"", b"[]"])
async def test_an_empty_body_is_a_400(tenant: Tenant, content: bytes) -> None:
    task = await lead_task(tenant)
    response = await tenant.client.put(
        "/task/", params={"id": task["id"]}, content=content,
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"]
    assert await every_task(tenant) == [task]


async def test_another_organizations_tasks_are_neither_matched_nor_changed(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await lead_task(other_tenant)
    mine = await lead_task(tenant)
    for params in ({"id": theirs["id"]}, {"lead_id": theirs["lead_id"]}, {"_type": "all"}):
        ok(await bulk_put(tenant, params, {"is_complete": True}))
    assert await every_task(other_tenant) == [theirs]
    assert len(await task_events(other_tenant, theirs)) == 1
    assert (await read(tenant, mine))["is_complete"] is True


async def test_another_organizations_user_cannot_be_assigned(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    task = await lead_task(tenant)
    response = await bulk_put(tenant, {"id": task["id"]}, {"assigned_to": other_tenant.user_id})
    assert "assigned_to" in field_errors(response)
    assert await read(tenant, task) == task


async def test_followup_tasks_change_only_when_type_names_them(
    tenant: Tenant, database: Database
) -> None:
    task = await lead_task(tenant)
    followup = await followup_task(tenant, database, task["lead_id"])
    ok(await bulk_put(tenant, {"lead_id": task["lead_id"]}, {"is_complete": True}))
    assert (await read(tenant, task))["is_complete"] is True
    assert await read(tenant, followup) == followup
    params = {"lead_id": task["lead_id"], "_type": "email_followup"}
    ok(await bulk_put(tenant, params, {"is_complete": True}))
    assert (await read(tenant, followup))["is_complete"] is True
    [completed, *_older] = await task_events(tenant, followup)
    assert completed["action"] == "completed"


async def test_more_tasks_than_a_chunk_are_each_changed_once(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "CHUNK", 2)
    lead = await create_lead(tenant.client)
    tasks = [await create_task(tenant.client, lead["id"]) for _ in range(5)]
    params = {"lead_id": lead["id"], "is_complete": "false"}
    ok(await bulk_put(tenant, params, {"is_complete": True}))
    for task in tasks:
        assert (await read(tenant, task))["is_complete"] is True
        assert [e["action"] for e in await task_events(tenant, task)] == ["completed", "created"]


async def test_the_method_is_served_with_and_without_the_final_slash(tenant: Tenant) -> None:
    task = await lead_task(tenant)
    response = await tenant.client.put(
        "/task", params={"id": task["id"]}, json={"is_complete": True}
    )
    assert ok(response) == {}


@pytest.mark.parametrize("value", [12345, 0, 1.5, "1700000000"])
async def test_a_number_is_not_a_task_date(tenant: Tenant, value: Any) -> None:
    """Lax parsing read a number as seconds since 1970: ``{"date": 12345}`` set 1970-01-01."""
    lead = await create_lead(tenant.client)
    task = ok(await tenant.client.post("/task/", json={"lead_id": lead["id"], "text": "Call"}))
    bulk = await tenant.client.put("/task/", params={"id__in": task["id"]}, json={"date": value})
    one = await tenant.client.put(f"/task/{task['id']}/", json={"date": value})
    assert "date" in field_errors(bulk)
    assert "date" in field_errors(one)
    assert ok(await tenant.client.get(f"/task/{task['id']}/")) == task
