"""A thread belongs to one lead (§2.1 ``in_reply_to_id``: "an email activity of the same lead").

Replies are matched only among the emails of the new email's own lead; deleting a lead or a
thread never reaches another lead's emails.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, ok
from tests.threads.test_threads import inbox_email, later, read, sent_email

HEADER_SOURCES = ["envelope.in_reply_to", "envelope.references", "references"]


def pointing_at(message_id: str, source: str) -> dict[str, Any]:
    """The fields of an incoming email that name ``message_id`` through ``source``."""
    if source == "envelope.in_reply_to":
        return {"envelope": {"in_reply_to": message_id}}
    if source == "envelope.references":
        return {"envelope": {"references": [message_id]}}
    return {"references": [message_id]}


async def two_leads(tenant: Tenant) -> tuple[str, str]:
    x = await create_lead(tenant.client, name="X")
    y = await create_lead(tenant.client, name="Y")
    return x["id"], y["id"]


async def reply_on_other_lead(tenant: Tenant, source: str = "envelope.in_reply_to") -> Any:
    """The audit's scenario: an offer sent on X, a reply to it logged on Y."""
    x, y = await two_leads(tenant)
    offer = await sent_email(tenant, x, to=["p@q.com"], subject="Offer")
    reply = await inbox_email(
        tenant, y, sender="p@q.com", subject="Re: Offer",
        activity_at=later(offer["date_sent"], 60),
        **pointing_at(offer["message_ids"][0], source),
    )  # fmt: skip
    return x, y, offer, reply


async def threads_of(tenant: Tenant, lead_id: str) -> list[dict[str, Any]]:
    page = await read(tenant, f"/activity/emailthread/?lead_id={lead_id}")
    threads: list[dict[str, Any]] = page["data"]
    return threads


async def assert_alone_in_its_listed_thread(tenant: Tenant, lead_id: str, email: Any) -> None:
    assert ok(await tenant.client.get(f"/activity/email/{email['id']}/"))["lead_id"] == lead_id
    [thread] = await threads_of(tenant, lead_id)
    assert thread["id"] == email["thread_id"]
    assert thread["lead_id"] == lead_id
    assert [e["id"] for e in thread["emails"]] == [email["id"]]


@pytest.mark.parametrize("source", HEADER_SOURCES)
async def test_a_reply_to_another_leads_message_id_starts_its_own_thread(
    tenant: Tenant, source: str
) -> None:
    _x, y, offer, reply = await reply_on_other_lead(tenant, source)
    assert reply["thread_id"] != offer["thread_id"]
    await assert_alone_in_its_listed_thread(tenant, y, reply)
    offer_thread = await read(tenant, f"/activity/emailthread/{offer['thread_id']}/")
    assert [e["id"] for e in offer_thread["emails"]] == [offer["id"]]


async def test_a_reply_logged_on_another_lead_gives_no_reply_to_the_sent_email(
    tenant: Tenant,
) -> None:
    _x, _y, offer, _reply = await reply_on_other_lead(tenant)
    assert (await read(tenant, f"/activity/email/{offer['id']}/"))["has_reply"] is False


async def test_a_reply_to_another_leads_message_id_falls_back_to_its_leads_subject_thread(
    tenant: Tenant,
) -> None:
    x, y = await two_leads(tenant)
    offer = await sent_email(tenant, x, subject="Offer")
    own = await sent_email(tenant, y, subject="Offer")
    reply = await inbox_email(
        tenant, y, subject="Re: Offer", envelope={"in_reply_to": offer["message_ids"][0]},
        activity_at=later(own["date_sent"], 60),
    )  # fmt: skip
    assert reply["thread_id"] == own["thread_id"]
    assert (await read(tenant, f"/activity/email/{own['id']}/"))["has_reply"] is True
    assert (await read(tenant, f"/activity/email/{offer['id']}/"))["has_reply"] is False


async def test_references_skip_another_leads_message_id_for_one_of_the_same_lead(
    tenant: Tenant,
) -> None:
    x, y = await two_leads(tenant)
    own = await sent_email(tenant, y, subject="Pricing")
    foreign = await sent_email(tenant, x, subject="Pricing")
    reply = await inbox_email(
        tenant, y, subject="Something else",
        references=[own["message_ids"][0], foreign["message_ids"][0]],
    )  # fmt: skip
    assert reply["thread_id"] == own["thread_id"]


async def test_deleting_the_other_leads_thread_leaves_the_reply_in_its_own_thread(
    tenant: Tenant,
) -> None:
    _x, y, offer, reply = await reply_on_other_lead(tenant)
    ok(await tenant.client.delete(f"/activity/emailthread/{offer['thread_id']}/"))
    assert (await tenant.client.get(f"/activity/email/{offer['id']}/")).status_code == 404
    await assert_alone_in_its_listed_thread(tenant, y, reply)


async def test_deleting_the_other_lead_leaves_the_reply_in_its_own_thread(
    tenant: Tenant,
) -> None:
    x, y, offer, reply = await reply_on_other_lead(tenant)
    ok(await tenant.client.delete(f"/lead/{x}/"))
    assert (await tenant.client.get(f"/activity/email/{offer['id']}/")).status_code == 404
    await assert_alone_in_its_listed_thread(tenant, y, reply)


async def test_in_reply_to_id_of_another_leads_email_is_a_field_error_and_changes_nothing(
    tenant: Tenant,
) -> None:
    x, y = await two_leads(tenant)
    offer = await sent_email(tenant, x, subject="Offer")
    response = await tenant.client.post(
        "/activity/email/",
        json={"lead_id": y, "status": "inbox", "sender": "p@q.com", "subject": "Re: Offer",
              "in_reply_to_id": offer["id"]},
    )  # fmt: skip
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == []
    assert set(body["field-errors"]) == {"in_reply_to_id"}
    assert body["error"] == f"in_reply_to_id: {body['field-errors']['in_reply_to_id']}"
    assert (await read(tenant, f"/activity/email/?lead_id={y}"))["data"] == []
    assert await threads_of(tenant, y) == []
    after = await read(tenant, f"/activity/emailthread/{offer['thread_id']}/")
    assert [e["id"] for e in after["emails"]] == [offer["id"]]
    assert after["emails"][0]["has_reply"] is False


async def test_a_draft_cannot_be_moved_to_reply_to_another_leads_email(tenant: Tenant) -> None:
    x, y = await two_leads(tenant)
    offer = await sent_email(tenant, x, subject="Offer")
    draft = await create_email(tenant.client, y, status="draft", sender="me@sender.example.com")
    response = await tenant.client.put(
        f"/activity/email/{draft['id']}/", json={"in_reply_to_id": offer["id"]}
    )
    assert response.status_code == 400
    assert set(response.json()["field-errors"]) == {"in_reply_to_id"}
    unchanged = await read(tenant, f"/activity/email/{draft['id']}/")
    assert unchanged["in_reply_to_id"] is None
    assert unchanged["thread_id"] == draft["thread_id"]


async def test_same_lead_replies_still_join_the_thread_by_every_header(tenant: Tenant) -> None:
    lead = (await create_lead(tenant.client))["id"]
    first = await sent_email(tenant, lead)
    replies = [
        await inbox_email(
            tenant,
            lead,
            subject=f"Unrelated {n}",
            activity_at=later(first["date_sent"], 60),
            **pointing_at(first["message_ids"][0], source),
        )  # fmt: skip
        for n, source in enumerate(HEADER_SOURCES)
    ]
    by_id = await inbox_email(tenant, lead, subject="Other", in_reply_to_id=first["id"])
    assert {r["thread_id"] for r in [*replies, by_id]} == {first["thread_id"]}
    assert (await read(tenant, f"/activity/email/{first['id']}/"))["has_reply"] is True
