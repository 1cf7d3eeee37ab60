"""A thread's events are shaped as Close documents its event log (developer.close.com, Event
Log, Event format): ``changed_fields`` "for update events, contains a list of fields that
have changed" and ``previous_data`` their old values; ``data`` is "the payload of the
affected object as if you fetched it via API (null for delete events)", a deleted object's
last state being in ``previous_data`` (docs/decisions.md)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, ok

SENDER = "me@sender.example.com"
BUYER = "buyer@acme.example.com"


async def thread_events(tenant: Tenant, thread_id: str, action: str) -> list[dict[str, Any]]:
    params = {"object_type": "activity.email_thread", "object_id": thread_id, "action": action}
    events: list[dict[str, Any]] = ok(await tenant.client.get("/event/", params=params))["data"]
    return events


async def shown(tenant: Tenant, thread_id: str) -> dict[str, Any]:
    return ok(await tenant.client.get(f"/activity/emailthread/{thread_id}/"))


async def conversation(tenant: Tenant) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A lead, its sent email and the thread as shown before anything else joins it."""
    lead = await create_lead(tenant.client)
    first = await create_email(
        tenant.client, lead["id"], status="sent", sender=SENDER, to=[BUYER], subject="Pricing"
    )
    return lead, first, await shown(tenant, first["thread_id"])


async def reply_to(tenant: Tenant, lead_id: str, email: dict[str, Any]) -> dict[str, Any]:
    return await create_email(
        tenant.client, lead_id, status="inbox", sender=BUYER, to=[SENDER],
        subject="Re: Pricing", in_reply_to_id=email["id"],
    )  # fmt: skip


async def test_a_reply_joining_a_thread_records_what_changed_and_the_old_values(
    tenant: Tenant,
) -> None:
    lead, first, before = await conversation(tenant)
    reply = await reply_to(tenant, lead["id"], first)
    [updated] = await thread_events(tenant, first["thread_id"], "updated")
    assert updated["data"] == await shown(tenant, first["thread_id"])
    assert {"emails", "n_emails", "date_updated"} <= set(updated["changed_fields"])
    assert updated["previous_data"]["n_emails"] == 1
    assert updated["previous_data"]["emails"] == before["emails"]
    assert updated["previous_data"]["date_updated"] == before["date_updated"]
    assert set(updated["previous_data"]) == set(updated["changed_fields"])
    assert reply["id"] in [email["id"] for email in updated["data"]["emails"]]


async def test_deleting_an_email_of_a_longer_thread_records_what_changed(tenant: Tenant) -> None:
    lead, first, _ = await conversation(tenant)
    reply = await reply_to(tenant, lead["id"], first)
    before = await shown(tenant, first["thread_id"])
    ok(await tenant.client.delete(f"/activity/email/{reply['id']}/"))
    [newest, _] = await thread_events(tenant, first["thread_id"], "updated")
    assert newest["data"] == await shown(tenant, first["thread_id"])
    assert newest["data"]["n_emails"] == 1
    assert {"emails", "n_emails", "date_updated"} <= set(newest["changed_fields"])
    assert newest["previous_data"]["n_emails"] == 2
    assert newest["previous_data"]["date_updated"] == before["date_updated"]


async def test_a_deleted_thread_event_holds_the_thread_as_it_was_shown(tenant: Tenant) -> None:
    lead, first, _ = await conversation(tenant)
    await reply_to(tenant, lead["id"], first)
    last = await shown(tenant, first["thread_id"])
    ok(await tenant.client.delete(f"/activity/emailthread/{first['thread_id']}/"))
    [deleted] = await thread_events(tenant, first["thread_id"], "deleted")
    assert (deleted["data"], deleted["changed_fields"]) == (None, [])
    assert deleted["previous_data"] == last


async def test_deleting_a_threads_last_email_records_the_thread_as_it_was(
    tenant: Tenant,
) -> None:
    _, first, last = await conversation(tenant)
    ok(await tenant.client.delete(f"/activity/email/{first['id']}/"))
    [deleted] = await thread_events(tenant, first["thread_id"], "deleted")
    assert deleted["previous_data"] == last


async def test_deleting_a_lead_records_each_thread_as_it_was(tenant: Tenant) -> None:
    lead, first, last = await conversation(tenant)
    ok(await tenant.client.delete(f"/lead/{lead['id']}/"))
    [deleted] = await thread_events(tenant, first["thread_id"], "deleted")
    assert deleted["previous_data"] == last
    assert deleted["lead_id"] == lead["id"]


async def test_a_draft_moved_into_a_thread_records_the_emptied_threads_deletion(
    tenant: Tenant,
) -> None:
    """A draft whose ``in_reply_to_id`` now names an email of another thread joins that
    thread, and the thread it leaves empty is gone: both are events, as such changes are
    when an email is created or deleted."""
    lead, first, before = await conversation(tenant)
    draft = await create_email(tenant.client, lead["id"], status="draft", subject="Re: Pricing")
    left = await shown(tenant, draft["thread_id"])
    ok(
        await tenant.client.put(
            f"/activity/email/{draft['id']}/", json={"in_reply_to_id": first["id"]}
        )
    )
    [deleted] = await thread_events(tenant, draft["thread_id"], "deleted")
    assert deleted["previous_data"] == left
    [joined] = await thread_events(tenant, first["thread_id"], "updated")
    assert joined["data"] == await shown(tenant, first["thread_id"])
    assert joined["previous_data"]["emails"] == before["emails"]
    assert draft["id"] in [email["id"] for email in joined["data"]["emails"]]


async def test_a_reply_draft_set_apart_records_its_new_thread_and_the_one_it_left(
    tenant: Tenant,
) -> None:
    lead, first, _ = await conversation(tenant)
    draft = await create_email(
        tenant.client, lead["id"], status="draft", subject="Re: Pricing", in_reply_to_id=first["id"]
    )
    with_draft = await shown(tenant, first["thread_id"])
    moved = ok(
        await tenant.client.put(f"/activity/email/{draft['id']}/", json={"in_reply_to_id": None})
    )
    assert moved["thread_id"] != first["thread_id"]
    [created] = await thread_events(tenant, moved["thread_id"], "created")
    assert created["data"] == await shown(tenant, moved["thread_id"])
    [left, _] = await thread_events(tenant, first["thread_id"], "updated")
    assert left["data"] == await shown(tenant, first["thread_id"])
    assert left["previous_data"]["emails"] == with_draft["emails"]
    assert left["previous_data"]["n_emails"] == 2


async def test_a_reply_records_the_answered_emails_has_reply(tenant: Tenant) -> None:
    """An incoming reply gives ``has_reply`` to the sent emails of its thread it answers; the
    change is theirs, so each records an ``activity.email`` ``updated`` event with it."""
    lead, first, _ = await conversation(tenant)
    response = await tenant.client.post(
        "/activity/email/",
        json={
            "lead_id": lead["id"], "status": "inbox", "sender": BUYER, "to": [SENDER],
            "subject": "Re: Pricing", "in_reply_to_id": first["id"],
        },
    )  # fmt: skip
    ok(response)
    params = {"object_id": first["id"], "action": "updated"}
    [updated] = ok(await tenant.client.get("/event/", params=params))["data"]
    now = ok(await tenant.client.get(f"/activity/email/{first['id']}/"))
    assert now["has_reply"] is True
    assert updated["data"] == now
    assert updated["changed_fields"] == ["date_updated", "has_reply"]
    assert updated["previous_data"] == {"date_updated": first["date_updated"], "has_reply": False}
    assert updated["request_id"] == response.headers["x-request-id"]
    assert now["updated_by"] == first["updated_by"]
