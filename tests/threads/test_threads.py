"""Threads and replies (conversations issue, points 1–4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from postroom.db import Database
from postroom.kit.datetimes import utcnow
from postroom.models import EmailThread
from tests.conftest import Tenant
from tests.helpers import claim_as_a_worker, create_email, create_lead, field_errors, ok

SENDER = "me@sender.example.com"
BUYER = "buyer@acme.example.com"


async def sent_email(tenant: Tenant, lead_id: str, **fields: Any) -> dict[str, Any]:
    values = {"status": "sent", "sender": SENDER, "to": [BUYER], "subject": "Pricing", **fields}
    return await create_email(tenant.client, lead_id, **values)


async def inbox_email(tenant: Tenant, lead_id: str, **fields: Any) -> dict[str, Any]:
    values = {"status": "inbox", "sender": BUYER, "to": [SENDER], "subject": "Re: Pricing"}
    return await create_email(tenant.client, lead_id, **{**values, **fields})


async def read(tenant: Tenant, path: str) -> dict[str, Any]:
    return ok(await tenant.client.get(path))


def later(iso: str, seconds: int) -> str:
    return (datetime.fromisoformat(iso) + timedelta(seconds=seconds)).isoformat()


async def test_a_new_outgoing_email_starts_a_thread(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    email = await sent_email(tenant, lead["id"])
    assert email["thread_id"].startswith("acti_")
    thread = await read(tenant, f"/activity/emailthread/{email['thread_id']}/")
    assert thread["_type"] == "EmailThread"
    assert thread["n_emails"] == 1
    assert [e["id"] for e in thread["emails"]] == [email["id"]]
    assert thread["latest_normalized_subject"] == "Pricing"
    assert thread["lead_id"] == lead["id"]
    for name in ("participants", "contact_id", "date_created", "date_updated"):
        assert name in thread


async def test_a_reply_naming_a_message_id_without_brackets_joins_its_thread(
    tenant: Tenant,
) -> None:
    lead = await create_lead(tenant.client)
    first = await sent_email(tenant, lead["id"])
    bare = first["message_ids"][0].strip("<>")
    reply = await inbox_email(tenant, lead["id"], subject="Other", envelope={"in_reply_to": bare})
    assert reply["thread_id"] == first["thread_id"]


async def test_a_reply_joins_the_thread_and_carries_the_reference_chain(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    first = await sent_email(tenant, lead["id"], references=["<root@acme.example.com>"])
    reply = await create_email(
        tenant.client, lead["id"], status="draft", sender=SENDER, in_reply_to_id=first["id"]
    )
    assert reply["thread_id"] == first["thread_id"]
    assert reply["references"] == ["<root@acme.example.com>", first["message_ids"][0]]
    assert reply["in_reply_to_id"] == first["id"]


async def test_two_unrelated_outgoing_emails_get_two_threads(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    one = await sent_email(tenant, lead["id"])
    two = await sent_email(tenant, lead["id"])
    assert one["thread_id"] != two["thread_id"]


async def test_inbox_with_in_reply_to_header_joins_the_thread_and_sets_has_reply(
    tenant: Tenant,
) -> None:
    lead = await create_lead(tenant.client)
    first = await sent_email(tenant, lead["id"])
    reply = await inbox_email(
        tenant, lead["id"], subject="Something else",
        envelope={"in_reply_to": first["message_ids"][0]},
        activity_at=later(first["date_sent"], 60),
    )  # fmt: skip
    assert reply["thread_id"] == first["thread_id"]
    assert (await read(tenant, f"/activity/email/{first['id']}/"))["has_reply"] is True


async def test_inbox_with_references_joins_the_thread(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    first = await sent_email(tenant, lead["id"])
    reply = await inbox_email(
        tenant, lead["id"], subject="Unrelated words",
        references=["<other@x.example.com>", first["message_ids"][0]],
    )  # fmt: skip
    assert reply["thread_id"] == first["thread_id"]


async def test_inbox_with_in_reply_to_id_joins_the_thread(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    first = await sent_email(tenant, lead["id"])
    reply = await inbox_email(tenant, lead["id"], subject="Hm", in_reply_to_id=first["id"])
    assert reply["thread_id"] == first["thread_id"]


async def test_inbox_without_headers_joins_by_normalized_subject(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    first = await sent_email(tenant, lead["id"], subject="Pricing  plan")
    reply = await inbox_email(tenant, lead["id"], subject="RE: Fwd: pricing plan")
    assert reply["thread_id"] == first["thread_id"]


async def test_subject_match_needs_the_same_lead(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    other = await create_lead(tenant.client, name="Other")
    first = await sent_email(tenant, lead["id"])
    reply = await inbox_email(tenant, other["id"])
    assert reply["thread_id"] != first["thread_id"]


async def test_subject_match_ignores_threads_idle_for_over_30_days(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client)
    first = await sent_email(tenant, lead["id"])
    async with database.transaction() as session:
        await session.execute(
            update(EmailThread)
            .where(EmailThread.id == first["thread_id"])
            .values(updated_at=utcnow() - timedelta(days=31))
        )
    reply = await inbox_email(tenant, lead["id"])
    assert reply["thread_id"] != first["thread_id"]


async def test_a_reply_dated_before_the_sent_email_is_not_a_reply(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    first = await sent_email(tenant, lead["id"])
    await inbox_email(
        tenant, lead["id"], envelope={"in_reply_to": first["message_ids"][0]},
        activity_at=later(first["date_sent"], -3600),
    )  # fmt: skip
    assert (await read(tenant, f"/activity/email/{first['id']}/"))["has_reply"] is False


async def test_logging_the_same_inbound_message_id_twice_returns_the_first_email(
    tenant: Tenant,
) -> None:
    lead = await create_lead(tenant.client)
    one = await inbox_email(tenant, lead["id"], message_ids=["<same@acme.example.com>"])
    two = await inbox_email(tenant, lead["id"], message_ids=["<same@acme.example.com>"])
    assert two["id"] == one["id"]
    page = await read(tenant, f"/activity/email/?lead_id={lead['id']}")
    assert len(page["data"]) == 1


async def test_the_same_message_id_in_another_organization_is_another_email(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await inbox_email(
        tenant, (await create_lead(tenant.client))["id"], message_ids=["<x@acme.example.com>"]
    )
    theirs = await inbox_email(
        other_tenant,
        (await create_lead(other_tenant.client))["id"],
        message_ids=["<x@acme.example.com>"],
    )
    assert mine["id"] != theirs["id"]


async def test_thread_list_filters_and_pages(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    other = await create_lead(tenant.client, name="Other")
    threads = [(await sent_email(tenant, lead["id"]))["thread_id"] for _ in range(3)]
    await sent_email(tenant, other["id"])
    page = await read(tenant, f"/activity/emailthread/?lead_id={lead['id']}&_limit=2")
    assert [t["id"] for t in page["data"]] == threads[::-1][:2]
    assert page["has_more"] is True
    rest = await read(tenant, f"/activity/emailthread/?lead_id={lead['id']}&_skip=2")
    assert [t["id"] for t in rest["data"]] == [threads[0]]
    assert rest["has_more"] is False
    future = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert (await read(tenant, f"/activity/emailthread/?date_created__gt={future}"))["data"] == []
    only = await read(tenant, f"/activity/emailthread/?lead_id={lead['id']}&_fields=id,n_emails")
    assert set(only["data"][0]) == {"id", "n_emails"}


async def test_thread_id_filter_on_emails(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    first = await sent_email(tenant, lead["id"])
    await sent_email(tenant, lead["id"])
    page = await read(tenant, f"/activity/email/?thread_id={first['thread_id']}")
    assert [e["id"] for e in page["data"]] == [first["id"]]


async def test_participants_list_every_address_once(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    first = await sent_email(tenant, lead["id"], cc=["Carol <carol@acme.example.com>"])
    await inbox_email(tenant, lead["id"], in_reply_to_id=first["id"])
    thread = await read(tenant, f"/activity/emailthread/{first['thread_id']}/")
    emails = sorted(p["email"] for p in thread["participants"])
    assert emails == sorted([SENDER, BUYER, "carol@acme.example.com"])
    assert thread["n_emails"] == 2


async def test_deleting_a_thread_removes_its_emails(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    first = await sent_email(tenant, lead["id"])
    reply = await inbox_email(tenant, lead["id"], in_reply_to_id=first["id"])
    assert ok(await tenant.client.delete(f"/activity/emailthread/{first['thread_id']}/")) == {}
    for email in (first, reply):
        assert (await tenant.client.get(f"/activity/email/{email['id']}/")).status_code == 404
    missing = await tenant.client.get(f"/activity/emailthread/{first['thread_id']}/")
    assert missing.status_code == 404


async def test_deleting_a_thread_cancels_its_unsent_emails(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    queued = await create_email(
        tenant.client, lead["id"], status="outbox", sender=SENDER, send_in=30
    )
    assert ok(await tenant.client.delete(f"/activity/emailthread/{queued['thread_id']}/")) == {}
    assert (await tenant.client.get(f"/activity/email/{queued['id']}/")).status_code == 404


async def test_a_thread_whose_email_is_being_sent_cannot_be_deleted(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client)
    queued = await create_email(
        tenant.client, lead["id"], status="outbox", sender=SENDER, send_in=30
    )
    await claim_as_a_worker(database, queued["id"])
    response = await tenant.client.delete(f"/activity/emailthread/{queued['thread_id']}/")
    assert response.status_code == 400
    assert (await tenant.client.get(f"/activity/email/{queued['id']}/")).status_code == 200


async def test_deleting_the_last_email_removes_its_thread(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    email = await sent_email(tenant, lead["id"])
    ok(await tenant.client.delete(f"/activity/email/{email['id']}/"))
    missing = await tenant.client.get(f"/activity/emailthread/{email['thread_id']}/")
    assert missing.status_code == 404


async def test_latest_normalized_subject_follows_the_threads_latest_email(
    tenant: Tenant,
) -> None:
    """It is the subject of the email the thread holds last, also after that email's subject
    is edited or the email deleted."""
    lead = await create_lead(tenant.client)
    first = await sent_email(tenant, lead["id"])
    path = f"/activity/emailthread/{first['thread_id']}/"
    draft = await create_email(
        tenant.client, lead["id"], status="draft", subject="Re: Pricing draft",
        in_reply_to_id=first["id"],
    )  # fmt: skip
    assert (await read(tenant, path))["latest_normalized_subject"] == "Pricing draft"
    draft_path = f"/activity/email/{draft['id']}/"
    ok(await tenant.client.put(draft_path, json={"subject": "Re: New terms"}))
    assert (await read(tenant, path))["latest_normalized_subject"] == "New terms"
    ok(await tenant.client.delete(draft_path))
    assert (await read(tenant, path))["latest_normalized_subject"] == "Pricing"


async def test_a_draft_that_starts_replying_moves_into_the_parents_thread(
    tenant: Tenant,
) -> None:
    lead = await create_lead(tenant.client)
    first = await sent_email(tenant, lead["id"])
    draft = await create_email(tenant.client, lead["id"], status="draft")
    moved = ok(
        await tenant.client.put(
            f"/activity/email/{draft['id']}/", json={"in_reply_to_id": first["id"]}
        )
    )
    assert moved["thread_id"] == first["thread_id"]
    assert moved["references"] == [first["message_ids"][0]]
    gone = await tenant.client.get(f"/activity/emailthread/{draft['thread_id']}/")
    assert gone.status_code == 404


async def test_another_organizations_thread_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    email = await sent_email(tenant, lead["id"])
    path = f"/activity/emailthread/{email['thread_id']}/"
    for response in (await other_tenant.client.get(path), await other_tenant.client.delete(path)):
        assert response.status_code == 404
        assert response.json() == {
            "error": "Empty query: EmailThread matching query does not exist."
        }
    assert (await read(other_tenant, "/activity/emailthread/"))["data"] == []
    assert "in_reply_to_id" in field_errors(
        await other_tenant.client.post(
            "/activity/email/",
            json={
                "lead_id": (await create_lead(other_tenant.client))["id"],
                "status": "draft",
                "in_reply_to_id": email["id"],
            },
        )
    )


async def test_the_nearest_named_email_gives_the_thread(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    older, newer, answered = [(await sent_email(tenant, lead["id"])) for _ in range(3)]
    by_references = await inbox_email(
        tenant, lead["id"], subject="Unrelated",
        references=[older["message_ids"][0], newer["message_ids"][0]],
    )  # fmt: skip
    assert by_references["thread_id"] == newer["thread_id"]
    by_in_reply_to = await inbox_email(
        tenant, lead["id"], subject="Unrelated",
        envelope={"in_reply_to": answered["message_ids"][0]},
        references=[older["message_ids"][0], newer["message_ids"][0]],
    )  # fmt: skip
    assert by_in_reply_to["thread_id"] == answered["thread_id"]


async def test_a_participant_is_named_by_whichever_email_names_it(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    first = await sent_email(tenant, lead["id"])
    await inbox_email(tenant, lead["id"], sender=f"Bea Buyer <{BUYER}>", in_reply_to_id=first["id"])
    thread = await read(tenant, f"/activity/emailthread/{first['thread_id']}/")
    named = {p["email"]: p["name"] for p in thread["participants"]}
    assert named == {SENDER: "", BUYER: "Bea Buyer"}
