"""The event log (events issue, points 1–2): every change writes an event in the same
transaction, listed newest first with cursor paging."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from postroom.db import Database
from postroom.kit.datetimes import utcnow
from postroom.models import Event
from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, field_errors, ok

FIELDS = [
    "id", "date_created", "date_updated", "organization_id", "user_id", "request_id",
    "api_key_id", "object_type", "object_id", "lead_id", "action", "changed_fields", "data",
    "previous_data", "meta",
]  # fmt: skip


async def events(tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = ok(await tenant.client.get("/event/", params=params))["data"]
    return data


async def test_creating_an_email_writes_a_created_event_with_every_field(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    response = await tenant.client.post(
        "/activity/email/", json={"lead_id": lead["id"], "status": "draft", "subject": "Hi"}
    )
    email = ok(response)
    [event] = await events(tenant, object_type="activity.email", object_id=email["id"])
    for name in FIELDS:
        assert name in event, name
    assert event["id"].startswith("ev_")
    assert event["action"] == "created"
    assert event["lead_id"] == lead["id"]
    assert event["organization_id"] == tenant.organization_id
    assert event["user_id"] == tenant.user_id
    assert event["api_key_id"].startswith("apikey_")
    assert event["request_id"] == response.headers["x-request-id"]
    assert event["meta"] == {"request_method": "POST", "request_path": "/api/v1/activity/email/"}
    assert event["data"] == email


async def test_a_new_emails_event_is_listed_just_before_its_threads(tenant: Tenant) -> None:
    """A create writes both events at once; newest first, the thread's comes first, every
    time (two events of the same moment would otherwise be ordered by their random ids)."""
    lead = await create_lead(tenant.client)
    for _ in range(20):
        email = await create_email(tenant.client, lead["id"])
        newest = await events(tenant, lead_id=lead["id"], _limit=2)
        assert [(event["object_type"], event["object_id"]) for event in newest] == [
            ("activity.email_thread", email["thread_id"]),
            ("activity.email", email["id"]),
        ]


async def test_updating_an_email_records_changed_fields_and_previous_values(
    tenant: Tenant,
) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"], subject="Old")
    ok(await tenant.client.put(f"/activity/email/{email['id']}/", json={"subject": "New"}))
    [event] = await events(tenant, object_id=email["id"], action="updated")
    assert "subject" in event["changed_fields"]
    assert "body_preview" not in event["changed_fields"]
    assert event["previous_data"]["subject"] == "Old"
    assert event["data"]["subject"] == "New"


async def test_deleting_an_email_writes_a_deleted_event(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"])
    ok(await tenant.client.delete(f"/activity/email/{email['id']}/"))
    [event] = await events(tenant, object_id=email["id"], action="deleted")
    assert event["previous_data"]["id"] == email["id"]
    [thread_event] = await events(tenant, object_id=email["thread_id"], action="deleted")
    assert thread_event["object_type"] == "activity.email_thread"


async def test_a_deleted_event_has_null_data_and_the_last_state_as_previous_data(
    tenant: Tenant,
) -> None:
    """Close: ``data`` is "the payload of the affected object as if you fetched it via API
    (null for delete events)"; its scripts restore deleted objects from ``previous_data``."""
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"])
    shown = ok(await tenant.client.get(f"/activity/email/{email['id']}/"))
    ok(await tenant.client.delete(f"/lead/{lead['id']}/"))
    for object_id, last in ((email["id"], shown), (lead["id"], None)):
        [event] = await events(tenant, object_id=object_id, action="deleted")
        assert (event["data"], event["changed_fields"]) == (None, [])
        assert event["previous_data"] == (last or event["previous_data"])
        assert event["previous_data"]["id"] == object_id


async def test_threads_leads_and_contacts_write_events(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    contact_id = lead["contacts"][0]["id"]
    email = await create_email(tenant.client, lead["id"])
    ok(await tenant.client.put(f"/lead/{lead['id']}/", json={"name": "Renamed"}))
    ok(await tenant.client.put(f"/contact/{contact_id}/", json={"title": "CEO"}))
    ok(await tenant.client.delete(f"/contact/{contact_id}/"))
    seen = {(e["object_type"], e["action"]) for e in await events(tenant, lead_id=lead["id"])}
    assert {
        ("lead", "created"), ("lead", "updated"), ("contact", "created"),
        ("contact", "updated"), ("contact", "deleted"), ("activity.email", "created"),
        ("activity.email_thread", "created"),
    } <= seen  # fmt: skip
    # newest first: the contact's removal (Close: a lead is updated when "a contact is added
    # or removed"), then the rename
    [_, renamed] = await events(tenant, object_type="lead", action="updated")
    assert renamed["changed_fields"] == ["date_updated", "display_name", "name"]
    assert email["thread_id"] in {e["object_id"] for e in await events(tenant)}


async def test_an_updates_changed_fields_and_previous_data_include_date_updated(
    tenant: Tenant,
) -> None:
    """As Close's example of a webhook payload shows: ``changed_fields`` lists every field
    whose value changed, ``date_updated`` included, and ``previous_data`` has its old value."""
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"], status="draft", subject="Old")
    changed = ok(
        await tenant.client.put(f"/activity/email/{email['id']}/", json={"subject": "New"})
    )
    [event] = await events(tenant, object_id=email["id"], action="updated")
    assert event["changed_fields"] == ["date_updated", "subject"]
    assert event["previous_data"]["date_updated"] == email["date_updated"]
    assert event["data"]["date_updated"] == changed["date_updated"]


async def test_lead_tasks_write_created_completed_and_deleted(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    task = ok(await tenant.client.post("/task/", json={"lead_id": lead["id"], "text": "Call"}))
    ok(await tenant.client.put(f"/task/{task['id']}/", json={"is_complete": True}))
    ok(await tenant.client.delete(f"/task/{task['id']}/"))
    actions = [e["action"] for e in await events(tenant, object_type="task.lead")]
    assert actions == ["deleted", "completed", "created"]


async def test_a_close_object_type_or_action_postroom_never_records_is_an_empty_page(
    tenant: Tenant,
) -> None:
    """Close's ``object_type`` and ``action`` filters are free strings: a client polling for
    calls or opportunities gets what Close gives when there are none, not a 400."""
    await create_lead(tenant.client)
    assert await events(tenant, object_type="opportunity") == []
    assert await events(tenant, object_type="activity.call", action="created") == []
    assert await events(tenant, object_type="lead", action="merged") == []
    assert await events(tenant, object_type="lead", action="created") != []


async def test_a_refused_request_writes_no_event(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    before = len(await events(tenant))
    response = await tenant.client.post(
        "/activity/email/", json={"lead_id": lead["id"], "status": "outbox"}
    )
    assert response.status_code == 400
    assert len(await events(tenant)) == before


async def test_newest_first_with_cursor_paging_both_ways(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    for _ in range(5):
        await create_email(tenant.client, lead["id"])
    everything = [e["id"] for e in await events(tenant)]
    first = ok(await tenant.client.get("/event/", params={"_limit": 3}))
    assert [e["id"] for e in first["data"]] == everything[:3]
    assert first["cursor_previous"] is None
    second = ok(
        await tenant.client.get("/event/", params={"_limit": 3, "_cursor": first["cursor_next"]})
    )
    assert [e["id"] for e in second["data"]] == everything[3:6]
    back = ok(
        await tenant.client.get(
            "/event/", params={"_limit": 3, "_cursor": second["cursor_previous"]}
        )
    )
    assert [e["id"] for e in back["data"]] == everything[:3]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"_limit": 4, **({"_cursor": cursor} if cursor else {})}
        page = ok(await tenant.client.get("/event/", params=params))
        seen += [e["id"] for e in page["data"]]
        cursor = page["cursor_next"]
        if cursor is None:
            break
    assert seen == everything


async def test_a_limit_above_50_gives_50_events_and_a_cursor(tenant: Tenant) -> None:
    """Close: ``_limit`` is "capped at and defaulting to 50"."""
    lead = await create_lead(tenant.client)
    for _ in range(26):  # a created event for each email and for its thread
        await create_email(tenant.client, lead["id"])
    everything = ok(await tenant.client.get("/event/", params={"_limit": 50}))
    for limit in (51, 100, 10**6):
        page = ok(await tenant.client.get("/event/", params={"_limit": limit}))
        assert page == everything
        assert len(page["data"]) == 50
        assert page["cursor_next"] is not None


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5"])
async def test_a_limit_below_1_or_not_a_number_is_400(tenant: Tenant, limit: str) -> None:
    assert "_limit" in field_errors(await tenant.client.get("/event/", params={"_limit": limit}))


async def test_bad_cursors_are_400(tenant: Tenant) -> None:
    assert "_cursor" in field_errors(await tenant.client.get("/event/", params={"_cursor": "x"}))


@pytest.mark.parametrize(
    "position",
    [
        '["2026-12-07T10:00:00", "ev_x", false]',  # no UTC offset
        '["2026-12-07", "ev_x", true]',
        '[1, "ev_x", false]',
        '["2026-12-07T10:00:00+00:00", "ev_\\ud800", false]',  # a lone surrogate: was a 500
        '["2026-12-07T10:00:00+00:00", "ev_\\u0000", false]',
        '["2026-12-07T10:00:00+00:00", {"id": "ev_x"}, false]',
        '["2026-12-07T10:00:00+00:00", 7, false]',
        '["2026-12-07T10:00:00+00:00", "ev_x", "yes"]',
        '["2026-12-07T10:00:00+00:00", "ev_x"]',
    ],
)
async def test_a_cursor_this_server_never_handed_out_is_a_400(
    tenant: Tenant, position: str
) -> None:
    cursor = base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")
    response = await tenant.client.get("/event/", params={"_cursor": cursor})
    assert "_cursor" in field_errors(response)


async def test_filters_by_date_updated(tenant: Tenant, database: Database) -> None:
    lead = await create_lead(tenant.client)
    async with database.transaction() as session:
        await session.execute(
            update(Event)
            .where(Event.organization_id == tenant.organization_id)
            .values(updated_at=utcnow() - timedelta(days=3))
        )
    await create_email(tenant.client, lead["id"])
    recent_from = (utcnow() - timedelta(days=1)).isoformat()
    recent = await events(tenant, date_updated__gt=recent_from)
    old = await events(tenant, date_updated__lt=recent_from)
    assert {e["object_type"] for e in recent} == {"activity.email", "activity.email_thread"}
    assert {e["object_type"] for e in old} == {"lead", "contact"}


async def test_single_event_and_tenancy(tenant: Tenant, other_tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    [event] = await events(tenant, object_type="lead", object_id=lead["id"])
    assert ok(await tenant.client.get(f"/event/{event['id']}/")) == event
    response = await other_tenant.client.get(f"/event/{event['id']}/")
    assert response.status_code == 404
    assert response.json() == {"error": "Empty query: Event matching query does not exist."}
    assert await events(other_tenant, lead_id=lead["id"]) == []


async def test_email_templates_write_created_updated_and_deleted(tenant: Tenant) -> None:
    body = {"name": "Intro", "subject": "Hi", "body": "<p>Hi</p>"}
    template = ok(await tenant.client.post("/email_template/", json=body))
    ok(await tenant.client.put(f"/email_template/{template['id']}/", json={"name": "Renamed"}))
    ok(await tenant.client.delete(f"/email_template/{template['id']}/"))
    found = await events(tenant, object_type="email_template", object_id=template["id"])
    assert [e["action"] for e in found] == ["deleted", "updated", "created"]
    assert found[1]["changed_fields"] == ["date_updated", "name"]
    assert found[1]["previous_data"] == {"date_updated": template["date_updated"], "name": "Intro"}


async def test_user_id_lists_only_the_events_that_user_caused(
    tenant: Tenant, colleague: Tenant, other_tenant: Tenant
) -> None:
    mine = await create_lead(tenant.client)
    theirs = await create_lead(colleague.client)
    await create_lead(other_tenant.client)
    by_me = await events(tenant, user_id=tenant.user_id)
    by_them = await events(tenant, user_id=colleague.user_id)
    assert {e["user_id"] for e in by_me} == {tenant.user_id}
    assert {e["user_id"] for e in by_them} == {colleague.user_id}
    assert mine["id"] in {e["object_id"] for e in by_me}
    assert theirs["id"] in {e["object_id"] for e in by_them}
    assert await events(tenant, user_id=other_tenant.user_id) == []


async def test_user_id_combines_with_other_filters_and_cursor_paging(
    tenant: Tenant, colleague: Tenant
) -> None:
    lead = await create_lead(tenant.client)
    for client in (tenant.client, colleague.client, tenant.client):
        await create_email(client, lead["id"])
    wanted = {"user_id": tenant.user_id, "object_type": "activity.email"}
    first = ok(await tenant.client.get("/event/", params={**wanted, "_limit": 1}))
    second = ok(
        await tenant.client.get(
            "/event/", params={**wanted, "_limit": 1, "_cursor": first["cursor_next"]}
        )
    )
    seen = first["data"] + second["data"]
    assert [(e["user_id"], e["object_type"]) for e in seen] == [
        (tenant.user_id, "activity.email")
    ] * 2
    assert second["cursor_next"] is None


async def test_request_id_lists_the_events_of_that_request(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    lead = await create_lead(tenant.client)
    response = await tenant.client.post(
        "/activity/email/", json={"lead_id": lead["id"], "status": "draft"}
    )
    email = ok(response)
    request_id = response.headers["x-request-id"]
    found = await events(tenant, request_id=request_id)
    assert [(e["object_type"], e["object_id"]) for e in found] == [
        ("activity.email_thread", email["thread_id"]),
        ("activity.email", email["id"]),
    ]
    assert {e["request_id"] for e in found} == {request_id}
    assert await events(other_tenant, request_id=request_id) == []


async def test_date_updated_gte_and_lte_include_the_bound(
    tenant: Tenant, database: Database
) -> None:
    await create_lead(tenant.client)
    moment = utcnow().replace(microsecond=0) - timedelta(days=2)
    async with database.transaction() as session:
        await session.execute(
            update(Event)
            .where(Event.organization_id == tenant.organization_id)
            .values(updated_at=moment)
        )
    everything = await events(tenant)
    at = moment.isoformat()
    assert await events(tenant, date_updated__gte=at) == everything
    assert await events(tenant, date_updated__lte=at) == everything
    assert await events(tenant, date_updated__gt=at) == []
    assert await events(tenant, date_updated__lt=at) == []
    naive_two_hours_ahead = (moment + timedelta(hours=2)).replace(tzinfo=None).isoformat()
    response = await tenant.client.get(
        "/event/", params={"date_updated__gte": naive_two_hours_ahead}, headers={"X-TZ-Offset": "2"}
    )
    assert ok(response)["data"] == everything


async def test_bad_event_filters_are_400s_in_closes_format(tenant: Tenant) -> None:
    for name in ("date_updated__gte", "date_updated__lte"):
        response = await tenant.client.get("/event/", params={name: "soon"})
        assert name in field_errors(response)
        assert response.json()["error"].startswith(name)
    response = await tenant.client.get("/event/", params={"request_id": "r" * 65})
    assert "request_id" in field_errors(response)


async def test_skip_is_a_400_that_says_to_page_with_the_cursor(tenant: Tenant) -> None:
    """Close's event log "does not support ``_skip``": ignoring it would give a client that
    pages with ``_skip += len(data)`` the first page forever. ``_skip=0`` too: the loop starts
    there."""
    await create_lead(tenant.client)
    before = await events(tenant)
    assert before
    for skip in ("0", "1", "50"):
        response = await tenant.client.get("/event/", params={"_skip": skip, "_limit": 1})
        errors = field_errors(response)
        assert set(errors) == {"_skip"}
        assert "_cursor" in errors["_skip"]
        assert response.json()["errors"] == []
        assert response.json()["error"].startswith("_skip: ")
    assert await events(tenant) == before
