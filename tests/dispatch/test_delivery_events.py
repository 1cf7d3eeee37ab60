"""Events written by the dispatcher: ``sent`` when the SMTP server accepted the message,
``updated`` for failures, follow-up task creation, and event retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from postroom.kit.datetimes import utcnow
from postroom.models import Event
from tests.conftest import Tenant
from tests.dispatch.conftest import DeliveryHarness, eventually
from tests.helpers import create_email, create_lead, ok
from tests.smtp_server import SmtpServer


async def events(tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = ok(await tenant.client.get("/event/", params=params))["data"]
    return data


async def outbox(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    lead = await create_lead(tenant.client)
    values = {"status": "outbox", "sender": "me@sender.example.com", "to": ["b@x.example.com"]}
    return await create_email(tenant.client, lead["id"], **{**values, **fields})


async def sent_event_of(tenant: Tenant, email: dict[str, Any]) -> dict[str, Any]:
    """The ``sent`` event of ``email``, once its delivery wrote it."""

    async def has_sent_event() -> bool:
        return bool(await events(tenant, object_id=email["id"], action="sent"))

    await eventually(has_sent_event)
    [event] = await events(tenant, object_id=email["id"], action="sent")
    return event


async def test_a_delivered_email_writes_a_sent_event(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url)
    event = await sent_event_of(tenant, await outbox(tenant))
    assert event["object_type"] == "activity.email"
    assert event["data"]["status"] == "sent"
    assert event["data"]["date_sent"] is not None
    assert event["user_id"] is None


async def test_a_sent_event_names_the_fields_the_delivery_changed_with_their_old_values(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url)
    event = await sent_event_of(tenant, await outbox(tenant))
    assert {"status", "date_sent", "date_updated"} <= set(event["changed_fields"])
    assert "subject" not in event["changed_fields"]
    assert event["previous_data"]["status"] == "outbox"
    assert event["previous_data"]["date_sent"] is None
    assert set(event["previous_data"]) == set(event["changed_fields"])


async def test_a_permanent_failure_writes_an_updated_event(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    smtp.behaviour.mail_reply = "550 no"
    _app, tenant = await harness.start(smtp.url)
    email = await outbox(tenant)

    async def has_error_event() -> bool:
        found = await events(tenant, object_id=email["id"], action="updated")
        return any(event["data"]["status"] == "error" for event in found)

    await eventually(has_error_event)
    [event] = [
        event
        for event in await events(tenant, object_id=email["id"], action="updated")
        if event["data"]["status"] == "error"
    ]
    assert "status" in event["changed_fields"]
    assert event["previous_data"]["status"] == "outbox"


async def test_a_followup_task_writes_a_created_event(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url)
    lead = await create_lead(tenant.client)
    followup = datetime.now(UTC) + timedelta(seconds=0.5)
    await create_email(
        tenant.client, lead["id"], status="sent", sender="me@sender.example.com",
        followup_date=followup.isoformat(),
    )  # fmt: skip

    async def has_task_event() -> bool:
        return bool(await events(tenant, object_type="task.email_followup", action="created"))

    await eventually(has_task_event)


async def test_events_past_their_retention_are_removed(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    """The dispatcher's own housekeeping purges once as it starts, and on a busy machine that
    can come after the back-dating: the test checks what is left, not who removed it."""
    app, tenant = await harness.start(smtp.url)
    lead = await create_lead(tenant.client)
    async with app.state.database.transaction() as session:
        await session.execute(
            update(Event)
            .where(Event.object_id == lead["id"])
            .values(created_at=utcnow() - timedelta(days=31))
        )
    await app.state.dispatcher.purge_expired()
    assert await events(tenant, object_id=lead["id"]) == []
    assert await events(tenant, object_type="contact") != []
