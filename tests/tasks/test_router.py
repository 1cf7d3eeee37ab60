"""Tasks over HTTP: lead tasks, follow-up tasks, filters, views, tenancy (§1, §3)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from postroom.db import Database
from postroom.kit.datetimes import utcnow
from postroom.models import EmailActivity, Task
from postroom.tasks.service import add_followup_task, new_followup_task
from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, field_errors, ok

TASK_FIELDS = {
    "id", "_type", "organization_id", "lead_id", "lead_name", "contact_id", "assigned_to",
    "assigned_to_name", "text", "date", "due_date", "is_complete", "is_dateless", "view",
    "object_type", "object_id", "email_id", "subject", "body_preview", "created_by", "updated_by",
    "date_created", "date_updated",
}  # fmt: skip
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
TASK_NOT_FOUND = {"error": "Empty query: Task matching query does not exist."}
PAST = (utcnow() - timedelta(days=1)).isoformat(timespec="microseconds")
FUTURE = (utcnow() + timedelta(days=1)).isoformat(timespec="microseconds")


async def create_task(client: httpx.AsyncClient, lead_id: str, **fields: Any) -> dict[str, Any]:
    return ok(await client.post("/task/", json={"lead_id": lead_id, "text": "Call", **fields}))


async def lead_task(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    lead = await create_lead(tenant.client)
    return await create_task(tenant.client, lead["id"], **fields)


async def followup_task(tenant: Tenant, database: Database, lead_id: str) -> dict[str, Any]:
    """A follow-up task as the scheduler makes it, for a sent email of ``lead_id``."""
    email = await create_email(
        tenant.client, lead_id, status="sent", sender="me@sender.example.com",
        subject="Pricing", body_text="Our prices.", followup_date=PAST,
    )  # fmt: skip
    async with database.transaction() as session:
        row = await session.get(EmailActivity, email["id"])
        assert row is not None
        task = new_followup_task(row, email["thread_id"], utcnow())
        assert await add_followup_task(session, task)
    return ok(await tenant.client.get(f"/task/{task.id}/"))


async def listed(tenant: Tenant, params: dict[str, str] | None = None) -> list[str]:
    body = ok(await tenant.client.get("/task/", params=params))
    return [task["id"] for task in body["data"]]


async def test_created_lead_task_has_every_field_of_close(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    task = await create_task(tenant.client, lead["id"], date=FUTURE)
    assert set(task) == TASK_FIELDS
    assert task["id"].startswith("task_")
    assert (task["_type"], task["text"], task["lead_id"]) == ("lead", "Call", lead["id"])
    assert (task["organization_id"], task["lead_name"]) == (tenant.organization_id, "Acme Corp")
    assert (task["assigned_to"], task["assigned_to_name"]) == (tenant.user_id, "Jane Sender")
    assert (task["created_by"], task["updated_by"]) == (tenant.user_id, tenant.user_id)
    assert task["date"] == FUTURE
    assert (task["is_complete"], task["is_dateless"], task["view"]) == (False, False, "future")
    for name in ("date_created", "date_updated"):
        assert DATETIME.match(task[name]), name


async def test_task_without_date_is_dateless_and_in_the_inbox(tenant: Tenant) -> None:
    task = await lead_task(tenant)
    assert (task["date"], task["is_dateless"], task["view"]) == (None, True, "inbox")


async def test_plain_date_is_midnight_in_the_callers_time_zone(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    response = await tenant.client.post(
        "/task/", json={"lead_id": lead["id"], "date": "2026-12-01"}, headers={"X-TZ-Offset": "2"}
    )
    assert ok(response)["date"] == "2026-11-30T22:00:00.000000+00:00"


async def test_due_date_in_a_body_is_the_tasks_date(tenant: Tenant) -> None:
    """Close's task bodies name the due date ``date`` or ``due_date`` (its update schema has
    both): a task created or re-dated with ``due_date`` is due then, not left dateless."""
    lead = await create_lead(tenant.client)
    created = await create_task(tenant.client, lead["id"], due_date="2031-05-05T09:00:00Z")
    assert (created["date"], created["is_dateless"]) == ("2031-05-05T09:00:00.000000+00:00", False)
    assert created["due_date"] == created["date"]
    response = await tenant.client.put(
        f"/task/{created['id']}/", json={"due_date": "2032-01-01"}, headers={"X-TZ-Offset": "2"}
    )
    assert ok(response)["date"] == "2031-12-31T22:00:00.000000+00:00"
    assert ok(await tenant.client.get(f"/task/{created['id']}/"))["date"] == ok(response)["date"]


async def test_date_and_due_date_naming_different_times_is_a_400(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], "date": "2031-05-05", "due_date": "2031-06-06"}
    response = await tenant.client.post("/task/", json=body)
    assert set(field_errors(response)) == {"due_date"}
    assert await listed(tenant) == []
    task = await create_task(tenant.client, lead["id"], date="2031-05-05", due_date="2031-05-05")
    assert task["date"] == "2031-05-05T00:00:00.000000+00:00"
    response = await tenant.client.put(f"/task/{task['id']}/", json=body)
    assert set(field_errors(response)) == {"due_date"}
    assert ok(await tenant.client.get(f"/task/{task['id']}/"))["date"] == task["date"]


async def test_naive_datetime_follows_x_tz_offset(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    response = await tenant.client.post(
        "/task/",
        json={"lead_id": lead["id"], "date": "2026-12-01T10:30:00"},
        headers={"X-TZ-Offset": "-5.5"},
    )
    assert ok(response)["date"] == "2026-12-01T16:00:00.000000+00:00"


async def test_lead_name_falls_back_to_the_first_contact(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client, name=None)
    task = await create_task(tenant.client, lead["id"])
    assert task["lead_name"] == "Jane Doe"


async def test_lead_id_is_required(tenant: Tenant) -> None:
    errors = field_errors(await tenant.client.post("/task/", json={"text": "Call"}))
    assert {"lead_id", "lead"} <= set(errors)


async def test_lead_of_another_organization_is_an_error_under_lead_id_and_lead(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    lead = await create_lead(other_tenant.client)
    errors = field_errors(await tenant.client.post("/task/", json={"lead_id": lead["id"]}))
    assert {"lead_id", "lead"} <= set(errors)


async def test_assigned_to_must_be_a_user_of_the_organization(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], "assigned_to": other_tenant.user_id}
    assert "assigned_to" in field_errors(await tenant.client.post("/task/", json=body))


async def test_an_outgoing_call_task_can_be_created_edited_and_completed(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    task = await create_task(tenant.client, lead["id"], _type="outgoing_call", date=FUTURE)
    assert set(task) == TASK_FIELDS
    assert task["id"].startswith("task_")
    assert (task["_type"], task["text"], task["lead_id"]) == ("outgoing_call", "Call", lead["id"])
    assert (task["assigned_to"], task["date"], task["view"]) == (tenant.user_id, FUTURE, "future")
    body = {"text": "Call back", "is_complete": True}
    updated = ok(await tenant.client.put(f"/task/{task['id']}/", json=body))
    assert (updated["text"], updated["is_complete"]) == ("Call back", True)
    assert ok(await tenant.client.get(f"/task/{task['id']}/")) == updated


async def test_outgoing_call_tasks_are_listed_by_their_type(tenant: Tenant) -> None:
    task = await lead_task(tenant)
    call = await create_task(tenant.client, task["lead_id"], _type="outgoing_call")
    assert await listed(tenant) == [task["id"]]
    assert await listed(tenant, {"_type": "outgoing_call"}) == [call["id"]]
    assert await listed(tenant, {"_type": "all"}) == [call["id"], task["id"]]


async def test_an_outgoing_call_task_emits_task_outgoing_call_events(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    call = await create_task(tenant.client, lead["id"], _type="outgoing_call")
    params = {"object_type": "task.outgoing_call", "object_id": call["id"]}
    [event] = ok(await tenant.client.get("/event/", params=params))["data"]
    assert event["action"] == "created"


@pytest.mark.parametrize("task_type", ["email_followup", "incoming_email", "chore", ""])
async def test_creating_a_task_of_another_type_is_a_400_on_type_and_creates_nothing(
    tenant: Tenant, task_type: str
) -> None:
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], "_type": task_type}
    assert "_type" in field_errors(await tenant.client.post("/task/", json=body))
    assert await listed(tenant, {"_type": "all"}) == []


async def test_get_returns_the_task(tenant: Tenant) -> None:
    task = await lead_task(tenant, date=PAST)
    assert ok(await tenant.client.get(f"/task/{task['id']}/")) == task


async def test_another_organizations_task_is_not_found(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    path = f"/task/{(await lead_task(other_tenant))['id']}/"
    for response in (
        await tenant.client.get(path),
        await tenant.client.put(path, json={"is_complete": True}),
        await tenant.client.delete(path),
    ):
        assert (response.status_code, response.json()) == (404, TASK_NOT_FOUND)
    assert ok(await other_tenant.client.get(path))["is_complete"] is False


async def test_put_changes_only_the_fields_sent(tenant: Tenant) -> None:
    task = await lead_task(tenant, date=FUTURE)
    updated = ok(await tenant.client.put(f"/task/{task['id']}/", json={"text": "Email"}))
    assert updated["text"] == "Email"
    assert (updated["date"], updated["is_complete"]) == (FUTURE, False)
    assert updated["date_updated"] >= task["date_updated"]


async def test_put_of_the_stored_values_changes_nothing_and_writes_no_event(
    tenant: Tenant, colleague: Tenant
) -> None:
    task = await lead_task(tenant, date=FUTURE)
    same = {"text": "Call", "date": FUTURE, "assigned_to": tenant.user_id, "is_complete": False}
    for body in ({}, same):
        response = await colleague.client.put(f"/task/{task['id']}/", json=body)
        assert ok(response) == task
    params = {"object_type": "task.lead", "object_id": task["id"]}
    events = ok(await tenant.client.get("/event/", params=params))["data"]
    assert [event["action"] for event in events] == ["created"]


async def test_put_is_complete_true_completes_the_task(tenant: Tenant) -> None:
    task = await lead_task(tenant)
    updated = ok(await tenant.client.put(f"/task/{task['id']}/", json={"is_complete": True}))
    assert (updated["is_complete"], updated["view"]) == (True, "archive")


async def test_put_null_date_makes_the_task_dateless(tenant: Tenant) -> None:
    task = await lead_task(tenant, date=FUTURE)
    updated = ok(await tenant.client.put(f"/task/{task['id']}/", json={"date": None}))
    assert (updated["date"], updated["is_dateless"]) == (None, True)


async def test_put_is_dateless_true_clears_the_date(tenant: Tenant) -> None:
    task = await lead_task(tenant, date=FUTURE)
    updated = ok(await tenant.client.put(f"/task/{task['id']}/", json={"is_dateless": True}))
    assert (updated["date"], updated["due_date"], updated["is_dateless"]) == (None, None, True)
    assert ok(await tenant.client.get(f"/task/{task['id']}/"))["is_dateless"] is True


async def test_create_with_is_dateless_true_makes_a_dateless_task(tenant: Tenant) -> None:
    task = await lead_task(tenant, is_dateless=True)
    assert (task["date"], task["is_dateless"]) == (None, True)


@pytest.mark.parametrize("date_field", ["date", "due_date"])
async def test_is_dateless_true_beside_a_date_is_a_400_and_changes_nothing(
    tenant: Tenant, date_field: str
) -> None:
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], "is_dateless": True, date_field: FUTURE}
    assert "is_dateless" in field_errors(await tenant.client.post("/task/", json=body))
    task = await create_task(tenant.client, lead["id"], date=FUTURE)
    body = {"is_dateless": True, date_field: PAST}
    response = await tenant.client.put(f"/task/{task['id']}/", json=body)
    assert "is_dateless" in field_errors(response)
    assert ok(await tenant.client.get(f"/task/{task['id']}/")) == task


async def test_is_dateless_false_needs_a_date_sent_or_stored(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], "is_dateless": False}
    assert "is_dateless" in field_errors(await tenant.client.post("/task/", json=body))
    dateless = await create_task(tenant.client, lead["id"])
    path = f"/task/{dateless['id']}/"
    for refused in ({"is_dateless": False}, {"is_dateless": False, "date": None}):
        assert "is_dateless" in field_errors(await tenant.client.put(path, json=refused))
    dated = ok(await tenant.client.put(path, json={"is_dateless": False, "date": FUTURE}))
    assert (dated["date"], dated["is_dateless"]) == (FUTURE, False)
    assert ok(await tenant.client.put(path, json={"is_dateless": False, "text": "x"}))["date"]


async def test_a_task_posted_back_whole_keeps_its_date_or_its_datelessness(
    tenant: Tenant,
) -> None:
    for fields in ({"date": FUTURE}, {}):
        task = await lead_task(tenant, **fields)
        assert ok(await tenant.client.put(f"/task/{task['id']}/", json=task)) == task


async def test_a_task_names_a_contact_of_its_lead_on_create_and_put(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    contact_id = lead["contacts"][0]["id"]
    task = await create_task(tenant.client, lead["id"], contact_id=contact_id)
    assert task["contact_id"] == contact_id
    path = f"/task/{task['id']}/"
    assert ok(await tenant.client.put(path, json={"contact_id": None}))["contact_id"] is None
    named = ok(await tenant.client.put(path, json={"contact_id": contact_id}))
    assert (named["contact_id"], ok(await tenant.client.get(path))["contact_id"]) == (
        contact_id,
        contact_id,
    )
    params = {"object_type": "task.lead", "object_id": task["id"]}
    [latest, *_] = ok(await tenant.client.get("/event/", params=params))["data"]
    assert "contact_id" in latest["changed_fields"]


async def test_a_contact_of_another_lead_is_a_400_on_contact_id(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    lead, other_lead = await create_lead(tenant.client), await create_lead(tenant.client)
    foreign = (await create_lead(other_tenant.client))["contacts"][0]["id"]
    for contact_id in (other_lead["contacts"][0]["id"], foreign, "cont_unknown"):
        body = {"lead_id": lead["id"], "text": "Call", "contact_id": contact_id}
        assert "contact_id" in field_errors(await tenant.client.post("/task/", json=body))
        task = await create_task(tenant.client, lead["id"])
        response = await tenant.client.put(f"/task/{task['id']}/", json=body)
        assert "contact_id" in field_errors(response)
        assert ok(await tenant.client.get(f"/task/{task['id']}/"))["contact_id"] is None


async def test_the_contact_of_a_followup_task_cannot_change(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client)
    task = await followup_task(tenant, database, lead["id"])
    path = f"/task/{task['id']}/"
    body = {"contact_id": lead["contacts"][0]["id"]}
    assert "contact_id" in field_errors(await tenant.client.put(path, json=body))
    assert ok(await tenant.client.put(path, json=task)) == task


async def test_a_task_does_not_move_to_another_lead(tenant: Tenant, other_tenant: Tenant) -> None:
    task = await lead_task(tenant)
    path = f"/task/{task['id']}/"
    other_lead = (await create_lead(tenant.client))["id"]
    foreign_lead = (await create_lead(other_tenant.client))["id"]
    for lead_id in (other_lead, foreign_lead, "lead_unknown", None):
        errors = field_errors(await tenant.client.put(path, json={"lead_id": lead_id}))
        assert set(errors) >= {"lead_id", "lead"}
    assert ok(await tenant.client.get(path)) == task
    assert ok(await tenant.client.put(path, json={"lead_id": task["lead_id"]})) == task


@pytest.mark.parametrize(("field", "value"), [("priority", "high"), ("resolution", "skipped")])
async def test_a_priority_or_resolution_postroom_does_not_keep_is_a_400(
    tenant: Tenant, field: str, value: str
) -> None:
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], "text": "Call", field: value}
    assert field in field_errors(await tenant.client.post("/task/", json=body))
    task = await create_task(tenant.client, lead["id"])
    path = f"/task/{task['id']}/"
    assert field in field_errors(await tenant.client.put(path, json={field: value}))
    assert ok(await tenant.client.put(path, json={**task, field: None})) == task


async def test_put_reassigns_only_to_users_of_the_organization(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    path = f"/task/{(await lead_task(tenant))['id']}/"
    for assignee in (other_tenant.user_id, None):
        response = await tenant.client.put(path, json={"assigned_to": assignee})
        assert "assigned_to" in field_errors(response)


async def test_delete_answers_an_empty_object_and_removes_the_task(tenant: Tenant) -> None:
    path = f"/task/{(await lead_task(tenant))['id']}/"
    assert ok(await tenant.client.delete(path)) == {}
    assert (await tenant.client.get(path)).status_code == 404


async def test_deleting_the_lead_deletes_its_tasks(tenant: Tenant) -> None:
    task = await lead_task(tenant)
    ok(await tenant.client.delete(f"/lead/{task['lead_id']}/"))
    assert (await tenant.client.get(f"/task/{task['id']}/")).status_code == 404


async def test_followup_task_shows_its_email_and_thread(tenant: Tenant, database: Database) -> None:
    lead = await create_lead(tenant.client)
    task = await followup_task(tenant, database, lead["id"])
    assert set(task) == TASK_FIELDS
    assert task["id"].startswith("noti_")
    assert (task["_type"], task["object_type"]) == ("email_followup", "emailthread")
    assert task["object_id"].startswith("acti_")
    assert task["email_id"].startswith("acti_")
    assert (task["subject"], task["body_preview"]) == ("Pricing", "Our prices.")
    assert (task["assigned_to"], task["date"]) == (tenant.user_id, PAST)
    assert (task["is_complete"], task["view"]) == (False, "inbox")


async def test_text_of_a_followup_task_cannot_change(tenant: Tenant, database: Database) -> None:
    lead = await create_lead(tenant.client)
    task = await followup_task(tenant, database, lead["id"])
    response = await tenant.client.put(f"/task/{task['id']}/", json={"text": "Hi"})
    assert "text" in field_errors(response)


async def test_a_followup_task_can_be_completed(tenant: Tenant, database: Database) -> None:
    lead = await create_lead(tenant.client)
    task = await followup_task(tenant, database, lead["id"])
    response = await tenant.client.put(f"/task/{task['id']}/", json={"is_complete": True})
    assert ok(response)["is_complete"] is True


async def test_list_without_type_shows_only_lead_tasks(tenant: Tenant, database: Database) -> None:
    task = await lead_task(tenant)
    await followup_task(tenant, database, task["lead_id"])
    assert await listed(tenant) == [task["id"]]


async def test_type_filters_choose_the_task_types(tenant: Tenant, database: Database) -> None:
    task = await lead_task(tenant)
    followup = await followup_task(tenant, database, task["lead_id"])
    assert await listed(tenant, {"_type": "email_followup"}) == [followup["id"]]
    assert await listed(tenant, {"_type": "all"}) == [followup["id"], task["id"]]
    both = {"_type__in": "lead,email_followup"}
    assert await listed(tenant, both) == [followup["id"], task["id"]]
    assert await listed(tenant, {"_type": "incoming_email"}) == []


async def test_unknown_type_filter_is_a_400(tenant: Tenant) -> None:
    assert "_type" in field_errors(await tenant.client.get("/task/?_type=chore"))
    assert "_type__in" in field_errors(await tenant.client.get("/task/?_type__in=lead,chore"))


async def test_list_filters_by_lead_id(tenant: Tenant) -> None:
    task = await lead_task(tenant)
    await lead_task(tenant)
    assert await listed(tenant, {"lead_id": task["lead_id"]}) == [task["id"]]


async def test_list_filters_by_is_complete(tenant: Tenant) -> None:
    done = await lead_task(tenant, is_complete=True)
    open_task = await lead_task(tenant)
    assert await listed(tenant, {"is_complete": "true"}) == [done["id"]]
    assert await listed(tenant, {"is_complete": "false"}) == [open_task["id"]]


async def test_views_split_tasks_into_inbox_future_and_archive(tenant: Tenant) -> None:
    due = await lead_task(tenant, date=PAST)
    dateless = await lead_task(tenant)
    later = await lead_task(tenant, date=FUTURE)
    done = await lead_task(tenant, date=PAST, is_complete=True)
    assert await listed(tenant, {"view": "inbox"}) == [dateless["id"], due["id"]]
    assert await listed(tenant, {"view": "future"}) == [later["id"]]
    assert await listed(tenant, {"view": "archive"}) == [done["id"]]


def early_morning_offset() -> int:
    """An ``X-TZ-Offset`` (whole hours) at which it is now 03:xx in the caller's day."""
    hours = (3 - utcnow().hour) % 24
    return hours - 24 if hours > 12 else hours


async def test_inbox_holds_tasks_due_up_to_the_end_of_the_users_day(tenant: Tenant) -> None:
    """Close: ``inbox`` shows incomplete tasks "up to the end of the user's day", ``future``
    those "starting from the user's tomorrow" (both in the caller's time zone)."""
    offset = early_morning_offset()
    local_now = utcnow() + timedelta(hours=offset)
    local_tomorrow = (local_now + timedelta(days=1)).replace(hour=0, minute=0, second=0)
    tomorrow = (local_tomorrow - timedelta(hours=offset)).replace(microsecond=0)
    later_today = await lead_task(tenant, date=(utcnow() + timedelta(hours=10)).isoformat())
    last_second = await lead_task(tenant, date=(tomorrow - timedelta(seconds=1)).isoformat())
    tomorrows = await lead_task(tenant, date=tomorrow.isoformat())
    headers = {"X-TZ-Offset": str(offset)}
    for view, expected in (("inbox", [last_second, later_today]), ("future", [tomorrows])):
        body = ok(await tenant.client.get("/task/", params={"view": view}, headers=headers))
        assert [task["id"] for task in body["data"]] == [task["id"] for task in expected]
        assert {task["view"] for task in body["data"]} == {view}


async def test_unknown_view_is_a_400(tenant: Tenant) -> None:
    assert "view" in field_errors(await tenant.client.get("/task/?view=someday"))


async def test_view_overrides_date_lt(tenant: Tenant) -> None:
    later = await lead_task(tenant, date=FUTURE)
    assert await listed(tenant, {"date__lt": PAST}) == []
    assert await listed(tenant, {"view": "future", "date__lt": PAST}) == [later["id"]]


async def test_list_filters_by_date_bounds(tenant: Tenant) -> None:
    early = await lead_task(tenant, date=PAST)
    await lead_task(tenant, date=FUTURE)
    assert await listed(tenant, {"date__lte": utcnow().isoformat()}) == [early["id"]]


async def test_list_filters_by_assigned_to_and_id_in(tenant: Tenant) -> None:
    one = await lead_task(tenant)
    two = await lead_task(tenant)
    assert await listed(tenant, {"assigned_to": tenant.user_id}) == [two["id"], one["id"]]
    assert await listed(tenant, {"id__in": one["id"]}) == [one["id"]]


async def test_order_by_date_puts_dateless_tasks_last(tenant: Tenant) -> None:
    dateless = await lead_task(tenant)
    later = await lead_task(tenant, date=FUTURE)
    early = await lead_task(tenant, date=PAST)
    assert await listed(tenant, {"_order_by": "date"}) == [early["id"], later["id"], dateless["id"]]
    newest_due = [later["id"], early["id"], dateless["id"]]
    assert await listed(tenant, {"_order_by": "-date"}) == newest_due


async def test_unknown_order_is_a_400(tenant: Tenant) -> None:
    assert "_order_by" in field_errors(await tenant.client.get("/task/?_order_by=text"))


async def test_list_pages_newest_first_with_exact_has_more(tenant: Tenant) -> None:
    ids = [(await lead_task(tenant))["id"] for _ in range(3)]
    first = ok(await tenant.client.get("/task/", params={"_limit": "2"}))
    rest = ok(await tenant.client.get("/task/", params={"_skip": "2", "_limit": "2"}))
    assert [task["id"] for task in first["data"]] == ids[::-1][:2]
    assert [task["id"] for task in rest["data"]] == ids[:1]
    assert (first["has_more"], rest["has_more"]) == (True, False)


async def test_fields_selects_the_response_fields(tenant: Tenant) -> None:
    task = await lead_task(tenant)
    body = ok(await tenant.client.get("/task/", params={"_fields": "id,view"}))
    assert body["data"] == [{"id": task["id"], "view": "inbox"}]
    single = ok(await tenant.client.get(f"/task/{task['id']}/", params={"_fields": "_type"}))
    assert single == {"_type": "lead"}


async def test_list_never_shows_another_organizations_tasks(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    await lead_task(other_tenant)
    assert await listed(tenant, {"_type": "all"}) == []


async def test_id_lists_only_that_task(tenant: Tenant, other_tenant: Tenant) -> None:
    one = await lead_task(tenant)
    two = await lead_task(tenant)
    elsewhere = await lead_task(other_tenant)
    assert await listed(tenant, {"id": one["id"]}) == [one["id"]]
    assert await listed(tenant, {"id": one["id"], "id__in": f"{one['id']},{two['id']}"}) == [
        one["id"]
    ]
    assert await listed(tenant, {"id": one["id"], "id__in": two["id"]}) == []
    assert await listed(tenant, {"id": elsewhere["id"], "_type": "all"}) == []


async def test_date_is_an_exact_due_time_and_a_plain_date_its_midnight(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    in_berlin = {"X-TZ-Offset": "1"}
    all_day = ok(
        await tenant.client.post(
            "/task/", json={"lead_id": lead["id"], "date": "2026-12-01"}, headers=in_berlin
        )
    )
    afternoon = await create_task(tenant.client, lead["id"], date="2026-12-01T15:00:00Z")

    async def due(value: str, headers: dict[str, str] | None = None) -> list[str]:
        response = await tenant.client.get("/task/", params={"date": value}, headers=headers)
        return [task["id"] for task in ok(response)["data"]]

    assert await due("2026-12-01", in_berlin) == [all_day["id"]]
    assert await due("2026-12-01") == []
    assert await due("2026-12-01T15:00:00+00:00") == [afternoon["id"]]
    assert await due("2026-12-01T16:00:00", in_berlin) == [afternoon["id"]]


async def test_due_date_filters_are_the_date_filters_under_closes_other_name(
    tenant: Tenant,
) -> None:
    early = await lead_task(tenant, date=PAST)
    later = await lead_task(tenant, date=FUTURE)
    await lead_task(tenant)
    now = utcnow().isoformat()
    assert await listed(tenant, {"due_date": FUTURE}) == [later["id"]]
    assert await listed(tenant, {"due_date__lte": now}) == [early["id"]]
    assert await listed(tenant, {"due_date__lt": FUTURE}) == [early["id"]]
    assert await listed(tenant, {"due_date__gt": now}) == [later["id"]]
    assert await listed(tenant, {"due_date__gte": FUTURE}) == [later["id"]]
    assert await listed(tenant, {"due_date__gte": PAST, "date__lt": FUTURE}) == [early["id"]]


async def test_view_overrides_due_date_lt_as_it_does_date_lt(tenant: Tenant) -> None:
    later = await lead_task(tenant, date=FUTURE)
    assert await listed(tenant, {"due_date__lt": PAST}) == []
    assert await listed(tenant, {"view": "future", "due_date__lt": PAST}) == [later["id"]]


async def test_list_filters_by_date_updated_bounds(tenant: Tenant, database: Database) -> None:
    old = await lead_task(tenant)
    new = await lead_task(tenant)
    moment = utcnow().replace(microsecond=0) - timedelta(days=3)
    async with database.transaction() as session:
        await session.execute(update(Task).where(Task.id == old["id"]).values(updated_at=moment))
    at = moment.isoformat()
    assert await listed(tenant, {"date_updated__lte": at}) == [old["id"]]
    assert await listed(tenant, {"date_updated__lt": at}) == []
    assert await listed(tenant, {"date_updated__gt": at}) == [new["id"]]
    assert await listed(tenant, {"date_updated__gte": at}) == [new["id"], old["id"]]


@pytest.mark.parametrize(
    "name", ["date", "due_date", "due_date__gt", "due_date__lte", "date_updated__gte"]
)
async def test_a_bad_due_or_update_date_is_a_400_naming_the_filter(
    tenant: Tenant, name: str
) -> None:
    await lead_task(tenant)
    response = await tenant.client.get("/task/", params={name: "tomorrow-ish"})
    assert set(field_errors(response)) == {name}
    assert response.json()["error"].startswith(name)


async def test_organization_id_is_the_callers_own_or_a_400(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    task = await lead_task(tenant)
    assert await listed(tenant, {"organization_id": tenant.organization_id}) == [task["id"]]
    response = await tenant.client.get(
        "/task/", params={"organization_id": other_tenant.organization_id}
    )
    assert set(field_errors(response)) == {"organization_id"}
    assert response.json()["error"].startswith("organization_id: ")
    assert other_tenant.organization_id not in response.text


async def test_format_is_a_400_whatever_its_value(tenant: Tenant) -> None:
    """Close lists ``format`` among the filters without saying what it does: refused, not
    ignored (a client asking for another format would get a page it did not ask for)."""
    task = await lead_task(tenant)
    for value in ("json", "csv", "ical"):
        response = await tenant.client.get("/task/", params={"format": value})
        assert set(field_errors(response)) == {"format"}
        assert response.json()["error"].startswith("format: ")
    assert await listed(tenant, {"format": ""}) == [task["id"]]
