"""``has_reply`` says the thread holds a reply to the sent email (spec §2.3; a follow-up is
created at ``followup_date`` "if the thread has no reply", §2.1), so it follows the replies
the thread holds: deleting the last reply to an email takes it back (docs/decisions.md,
"Conversations")."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant
from tests.helpers import ok
from tests.threads.test_thread_events import conversation, reply_to, shown, thread_events


async def email(tenant: Tenant, email_id: str) -> dict[str, Any]:
    return ok(await tenant.client.get(f"/activity/email/{email_id}/"))


async def delete(tenant: Tenant, email_id: str) -> None:
    assert ok(await tenant.client.delete(f"/activity/email/{email_id}/")) == {}


async def test_deleting_the_only_reply_takes_has_reply_back(tenant: Tenant) -> None:
    lead, first, _ = await conversation(tenant)
    reply = await reply_to(tenant, lead["id"], first)
    answered = await email(tenant, first["id"])
    assert answered["has_reply"] is True
    await delete(tenant, reply["id"])
    assert (await email(tenant, first["id"]))["has_reply"] is False


async def test_an_email_keeps_has_reply_while_a_reply_to_it_remains(tenant: Tenant) -> None:
    lead, first, _ = await conversation(tenant)
    reply = await reply_to(tenant, lead["id"], first)
    await reply_to(tenant, lead["id"], first)
    await delete(tenant, reply["id"])
    assert (await email(tenant, first["id"]))["has_reply"] is True


async def test_has_reply_taken_back_is_the_answered_emails_updated_event(tenant: Tenant) -> None:
    lead, first, _ = await conversation(tenant)
    reply = await reply_to(tenant, lead["id"], first)
    answered = await email(tenant, first["id"])
    await delete(tenant, reply["id"])
    params = {"object_id": first["id"], "action": "updated"}
    latest = ok(await tenant.client.get("/event/", params=params))["data"][0]
    assert latest["data"] == await email(tenant, first["id"])
    assert latest["changed_fields"] == ["date_updated", "has_reply"]
    assert latest["previous_data"] == {
        "date_updated": answered["date_updated"],
        "has_reply": True,
    }
    [left, _] = await thread_events(tenant, first["thread_id"], "updated")
    assert left["data"] == await shown(tenant, first["thread_id"])
