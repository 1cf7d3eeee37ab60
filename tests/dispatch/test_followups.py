"""Follow-up tasks: created at ``followup_date`` when nobody answered, exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from postroom.app import build_dispatcher
from postroom.db import Database
from postroom.dispatch import followups
from tests.conftest import Tenant
from tests.dispatch.conftest import DeliveryHarness, delivery_settings, empty_queue, eventually
from tests.helpers import create_email, create_lead, ok
from tests.query_plans import statements_sent
from tests.smtp_server import SmtpServer
from tests.triggers import refusing

SENDER = "me@sender.example.com"
BUYER = "buyer@acme.example.com"


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def followup_tasks(tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    page = ok(await tenant.client.get("/task/", params={"_type": "email_followup", **params}))
    data: list[dict[str, Any]] = page["data"]
    return data


async def sent_with_followup(tenant: Tenant, followup: datetime) -> dict[str, Any]:
    lead = await create_lead(tenant.client)
    return await create_email(
        tenant.client, lead["id"], status="sent", sender=SENDER, to=[BUYER],
        subject="Proposal", body_text="Here is our proposal.", followup_date=followup.isoformat(),
    )  # fmt: skip


async def test_without_a_reply_one_task_is_created_at_followup_date(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url)
    followup = soon(1.0)
    email = await sent_with_followup(tenant, followup)
    await eventually(lambda: _has_tasks(tenant), interval=0.1)
    lateness = datetime.now(UTC) - followup
    print(f"follow-up task created {lateness.total_seconds() * 1000:.0f} ms after followup_date")  # noqa: T201
    assert timedelta(0) <= lateness <= timedelta(seconds=1)
    [task] = await followup_tasks(tenant)
    assert task["id"].startswith("noti_")
    assert task["_type"] == "email_followup"
    assert task["lead_id"] == email["lead_id"]
    assert task["assigned_to"] == tenant.user_id
    assert task["email_id"] == email["id"]
    assert task["object_type"] == "emailthread"
    assert task["object_id"] == email["thread_id"]
    assert task["subject"] == "Proposal"
    assert task["body_preview"] == "Here is our proposal."
    assert task["is_complete"] is False
    assert task["view"] == "inbox"
    assert datetime.fromisoformat(task["date"]) == followup.replace(
        microsecond=followup.microsecond
    )
    await asyncio.sleep(1.2)
    assert len(await followup_tasks(tenant)) == 1


async def test_a_reply_before_followup_date_prevents_the_task(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url)
    email = await sent_with_followup(tenant, soon(1.0))
    await create_email(
        tenant.client, email["lead_id"], status="inbox", sender=BUYER, to=[SENDER],
        subject="Re: Proposal", envelope={"in_reply_to": email["message_ids"][0]},
    )  # fmt: skip
    await asyncio.sleep(2.0)
    assert await followup_tasks(tenant) == []


async def test_an_email_cancelled_back_to_draft_gets_no_task(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url)
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client, lead["id"], status="scheduled", sender=SENDER, to=[BUYER],
        date_scheduled=soon(60).isoformat(), followup_date=soon(61).isoformat(),
    )  # fmt: skip
    ok(await tenant.client.put(f"/activity/email/{email['id']}/", json={"status": "draft"}))
    await asyncio.sleep(1.0)
    assert await followup_tasks(tenant) == []


async def test_an_outbox_email_gets_its_task_after_it_was_sent(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url)
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client, lead["id"], status="outbox", sender=SENDER, to=[BUYER], send_in=1,
        followup_date=soon(1.5).isoformat(),
    )  # fmt: skip
    await eventually(lambda: _has_tasks(tenant), interval=0.05)
    assert (await followup_tasks(tenant))[0]["email_id"] == email["id"]
    assert len(smtp.messages()) == 1


@pytest.mark.parametrize("completed", [False, True])
async def test_a_followup_date_moved_on_after_its_task_brings_the_task_back_at_the_new_date(
    harness: DeliveryHarness, smtp: SmtpServer, completed: bool
) -> None:
    """A sent email whose follow-up task exists is given a later ``followup_date``: at that
    moment, still without a reply, its one follow-up task is due again (re-dated, open),
    whether it had been done or not; the 200 of the PUT is not for a follow-up that never
    comes."""
    _app, tenant = await harness.start(smtp.url)
    email = await sent_with_followup(tenant, soon(0.5))
    await eventually(lambda: _has_tasks(tenant), interval=0.05)
    [first] = await followup_tasks(tenant)
    if completed:
        ok(await tenant.client.put(f"/task/{first['id']}/", json={"is_complete": True}))
    later = soon(1.0)
    url = f"/activity/email/{email['id']}/"
    ok(await tenant.client.put(url, json={"followup_date": later.isoformat()}))

    async def due_again() -> bool:
        [task] = await followup_tasks(tenant)
        return datetime.fromisoformat(task["date"]) == later

    await eventually(due_again, interval=0.05)
    [task] = await followup_tasks(tenant)
    assert (task["id"], task["is_complete"], task["email_id"]) == (first["id"], False, email["id"])


async def test_two_dispatchers_create_one_task(
    harness: DeliveryHarness, smtp: SmtpServer, delivery_database_url: str
) -> None:
    if delivery_database_url.startswith("sqlite"):
        pytest.skip("several dispatchers on one database is the PostgreSQL deployment")
    _app, tenant = await harness.start(smtp.url)
    await harness.start(smtp.url)
    emails = [await sent_with_followup(tenant, soon(1.0)) for _ in range(10)]
    await eventually(lambda: _has_tasks(tenant, count=10), interval=0.05)
    await asyncio.sleep(1.0)
    tasks = await followup_tasks(tenant)
    assert sorted(task["email_id"] for task in tasks) == sorted(email["id"] for email in emails)


async def _has_tasks(tenant: Tenant, count: int = 1) -> bool:
    return len(await followup_tasks(tenant)) >= count


async def test_an_idle_dispatcher_claims_follow_ups_only_when_one_is_due(
    delivery_database_url: str, tmp_path: Path
) -> None:
    """Every round reads when the next follow-up is due; the claim itself (a write
    transaction, on SQLite the one connection) runs once at start and then only when a
    follow-up has come due, not at every poll."""
    await empty_queue(delivery_database_url)
    settings = delivery_settings(
        delivery_database_url, "capture://", tmp_path, dispatch_poll_seconds=0.05
    )
    database = Database(delivery_database_url)
    dispatcher = build_dispatcher(database, settings)

    async def five_rounds() -> None:
        for _ in range(5):
            await dispatcher._round()

    try:
        sent = await statements_sent(database, five_rounds)
    finally:
        await dispatcher.registry.close()
        await database.dispose()
    looks = [sql for sql, _ in sent if "min(email_activities.followup_at)" in sql]
    claims = [sql for sql, _ in sent if "SET followup_done_at" in sql]
    assert len(looks) == 5
    assert len(claims) == 1


async def test_follow_ups_that_cannot_be_created_do_not_stop_delivery(
    harness: DeliveryHarness, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A follow-up task the database refuses (here a trigger; in life a bug or a bad row) is
    logged and tried again a while later; meanwhile queued emails are sent as usual, and the
    task is created once it can be."""
    monkeypatch.setattr(followups, "PUT_OFF_AFTER_FAILURE", timedelta(seconds=1))
    app, tenant = await harness.start(smtp.url)
    followup = "NEW.task_type = 'email_followup'"
    async with refusing(app.state.database, "INSERT", "tasks", followup):
        email = await sent_with_followup(tenant, soon(0.2))
        await asyncio.sleep(0.5)  # the follow-up came due, and its creation failed
        lead = await create_lead(tenant.client)
        await create_email(
            tenant.client, lead["id"], status="outbox", sender=SENDER, to=[BUYER],
            subject="Sent while follow-ups fail",
        )  # fmt: skip
        await eventually(lambda: _received(smtp, 1), within=5.0)
        assert await followup_tasks(tenant) == []
    await eventually(lambda: _has_tasks(tenant), within=5.0)
    [task] = await followup_tasks(tenant)
    assert task["email_id"] == email["id"]


async def _received(smtp: SmtpServer, count: int) -> bool:
    return len(smtp.messages()) >= count
