"""Events reach subscribers over real HTTP on loopback: signed, at least once, retried with
growing delays, given up after the window, paused subscriptions, and workers that restart (§3).

Tests that need exact timing drive a ``WebhookSender`` of their own with a fake clock
(``deliver_due()`` then ``drain()``), in an app whose own dispatcher and sender are off.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from postroom.config import Settings
from postroom.kit.datetimes import utcnow
from postroom.models import WebhookDelivery
from postroom.webhooks import repository, service
from postroom.webhooks.sender import WebhookSender
from tests.dispatch.conftest import DeliveryHarness, eventually
from tests.helpers import create_email, create_lead, ok
from tests.smtp_server import SmtpServer
from tests.webhooks.conftest import FakeClock, Receiver, read_subscription, subscribe

FAST: dict[str, Any] = {
    "webhooks_allow_private": True,
    "webhook_retry_first_delay_seconds": 0.2,
    "webhook_retry_max_delay_seconds": 0.5,
    "webhook_give_up_after_seconds": 60.0,
    "webhook_timeout_seconds": 2.0,
}
MANUAL: dict[str, Any] = {"webhooks_allow_private": True, "run_dispatcher": False}
"""An app without its own dispatcher and sender: the test runs the sender."""


def close_signature(signature_key: str, timestamp: str, body: str) -> str:
    """Close's documented verification, written independently of Postroom's code."""
    key = bytearray.fromhex(signature_key)
    return hmac.new(key, (timestamp + body).encode("utf-8"), hashlib.sha256).hexdigest()


async def deliveries(app: FastAPI, subscription_id: str) -> list[WebhookDelivery]:
    async with app.state.database.transaction() as session:
        statement = select(WebhookDelivery).where(
            WebhookDelivery.subscription_id == subscription_id
        )
        return list((await session.execute(statement)).scalars().all())


async def the_delivery(app: FastAPI, subscription_id: str) -> WebhookDelivery:
    [delivery] = await deliveries(app, subscription_id)
    return delivery


def received_at_least(receiver: Receiver, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(receiver.requests()) >= count

    return check


def all_attempted(app: FastAPI, subscription_id: str, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        found = await deliveries(app, subscription_id)
        return len(found) == count and all(row.attempt_count >= 1 for row in found)

    return check


def sender_of(app: FastAPI, clock: FakeClock | None = None, **overrides: Any) -> WebhookSender:
    settings: Settings = app.state.settings.model_copy(update=overrides)
    box = service.sealing_box(settings)
    return WebhookSender(app.state.database, settings, box, clock=clock or FakeClock())


async def attempt_due(sender: WebhookSender) -> int:
    claimed = await sender.deliver_due()
    await sender.drain()
    return claimed


async def test_event_is_posted_with_a_signature_that_verifies(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    _app, tenant = await webhooks.start(**FAST)
    subscription = await subscribe(tenant.client, receiver.url)
    lead = await create_lead(tenant.client)
    await eventually(received_at_least(receiver, 1))
    [request] = receiver.requests()
    timestamp, body = request.headers["close-sig-timestamp"], request.body.decode()
    expected = close_signature(subscription["signature_key"], timestamp, body)
    assert hmac.compare_digest(request.headers["close-sig-hash"], expected)
    assert abs(int(timestamp) - time.time()) < 60
    assert (request.path, request.headers["content-type"]) == ("/hooks", "application/json")
    [event] = ok(await tenant.client.get("/event/", params={"object_type": "lead"}))["data"]
    assert request.json() == {"event": event, "subscription_id": subscription["id"]}
    assert (event["action"], event["object_id"]) == ("created", lead["id"])


async def test_signature_does_not_verify_with_another_key(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    _app, tenant = await webhooks.start(**FAST)
    await subscribe(tenant.client, receiver.url)
    other = await subscribe(
        tenant.client,
        f"{receiver.url}/other",
        [{"object_type": "email_template", "action": "deleted"}],
    )
    await create_lead(tenant.client)
    await eventually(received_at_least(receiver, 1))
    [request] = receiver.requests()
    timestamp, body = request.headers["close-sig-timestamp"], request.body.decode()
    assert request.headers["close-sig-hash"] != close_signature(
        other["signature_key"], timestamp, body
    )


async def test_only_matching_events_of_active_subscriptions_are_queued(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**MANUAL)
    wanted = await subscribe(tenant.client, receiver.url)
    paused = await subscribe(tenant.client, receiver.url)
    ok(await tenant.client.put(f"/webhook/{paused['id']}/", json={"status": "paused"}))
    lead = await create_lead(tenant.client)
    ok(await tenant.client.put(f"/lead/{lead['id']}/", json={"name": "Renamed"}))
    [delivery] = await deliveries(app, wanted["id"])
    assert (delivery.status, delivery.attempt_count) == ("pending", 0)
    assert await deliveries(app, paused["id"]) == []


async def test_only_events_matching_the_webhook_filters_are_queued(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    """Close's Webhook Filters: an event is delivered when it matches its subscribed event's
    ``extra_filter`` and the subscription's ``event_filter``, both applied to the event as
    the webhook would deliver it."""
    app, tenant = await webhooks.start(**MANUAL)
    lead, other_lead = await create_lead(tenant.client), await create_lead(tenant.client)
    subject_changed = {
        "type": "field_accessor",
        "field": "changed_fields",
        "filter": {"type": "contains", "value": "subject"},
    }
    of_the_lead = {
        "type": "field_accessor",
        "field": "lead_id",
        "filter": {"type": "equals", "value": lead["id"]},
    }
    updated = {"object_type": "activity.email", "action": "updated"}
    body = {"url": receiver.url, "events": [{**updated, "extra_filter": subject_changed}]}
    response = await tenant.client.post("/webhook/", json={**body, "event_filter": of_the_lead})
    assert response.status_code == 201, response.text
    subscription = response.json()
    email = await create_email(tenant.client, lead["id"])
    other = await create_email(tenant.client, other_lead["id"])
    for changed in (email, other):
        ok(await tenant.client.put(f"/activity/email/{changed['id']}/", json={"subject": "New"}))
    ok(await tenant.client.put(f"/activity/email/{email['id']}/", json={"body_text": "Hi"}))
    events = ok(await tenant.client.get("/event/", params={"object_type": "activity.email"}))
    wanted = [
        event["id"]
        for event in events["data"]
        if event["action"] == "updated"
        and event["object_id"] == email["id"]
        and "subject" in event["changed_fields"]
    ]
    queued = await deliveries(app, subscription["id"])
    assert len(wanted) == 1
    assert [delivery.event_id for delivery in queued] == wanted


async def test_deleting_a_lead_posts_the_deleted_event_of_each_of_its_emails(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    _app, tenant = await webhooks.start(**FAST)
    wanted = [{"object_type": "activity.email", "action": "deleted"}]
    subscription = await subscribe(tenant.client, receiver.url, wanted)
    lead = await create_lead(tenant.client)
    emails = [await create_email(tenant.client, lead["id"]) for _ in range(3)]
    ok(await tenant.client.delete(f"/lead/{lead['id']}/"))
    await eventually(received_at_least(receiver, 3))
    posted = [request.json() for request in receiver.requests()]
    assert sorted(body["event"]["object_id"] for body in posted) == sorted(e["id"] for e in emails)
    assert {body["subscription_id"] for body in posted} == {subscription["id"]}
    assert {body["event"]["action"] for body in posted} == {"deleted"}


async def test_subscriber_down_during_20_events_then_up_gets_all_20(
    webhooks: DeliveryHarness, down_receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**FAST)
    subscription = await subscribe(tenant.client, down_receiver.url)
    for _ in range(20):
        await create_lead(tenant.client)
    await eventually(all_attempted(app, subscription["id"], 20))
    assert down_receiver.requests() == []
    down_receiver.up()
    await eventually(received_at_least(down_receiver, 20))
    await asyncio.sleep(1.0)
    events = [request.json()["event"]["id"] for request in down_receiver.requests()]
    assert len(events) == len(set(events)) == 20
    rows = await deliveries(app, subscription["id"])
    assert {row.status for row in rows} == {"delivered"}
    assert {row.last_status_code for row in rows} == {200}


async def test_subscriber_answering_500_is_retried_with_growing_delays(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**{**FAST, "webhook_retry_max_delay_seconds": 1.6})
    receiver.status = 500
    subscription = await subscribe(tenant.client, receiver.url)
    await create_lead(tenant.client)
    await eventually(received_at_least(receiver, 4))
    gaps = [later.at - earlier.at for earlier, later in pairwise(receiver.requests()[:4])]
    for gap, delay in zip(gaps, (0.2, 0.4, 0.8), strict=True):
        assert gap >= delay - 0.01, gaps
    delivery = await the_delivery(app, subscription["id"])
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == (
        "pending", 500, "HTTP 500",
    )  # fmt: skip


async def test_retry_schedule_doubles_up_to_the_cap_and_gives_up_after_72_hours(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**MANUAL)
    receiver.status = 503
    clock = FakeClock()
    sender = sender_of(app, clock)
    subscription = await subscribe(tenant.client, receiver.url)
    await create_lead(tenant.client)
    due_times = []
    try:
        while (delivery := await the_delivery(app, subscription["id"])).status == "pending":
            assert delivery.due_at is not None
            due_times.append(delivery.due_at)
            clock.advance_to(delivery.due_at)
            assert await attempt_due(sender) == 1
    finally:
        await sender.aclose()
    # The fake clock runs on with the real one: each delay may be up to a few real seconds
    # longer on a busy machine.
    delays = [(later - earlier).total_seconds() for earlier, later in pairwise(due_times)]
    assert delays[:8] == pytest.approx([30, 60, 120, 240, 480, 960, 1920, 3600], abs=5)
    assert delays[7:] == pytest.approx([3600] * len(delays[7:]), abs=5)
    assert sum(delays) <= 72 * 3600 < sum(delays) + 3600
    assert (delivery.status, delivery.attempt_count) == ("failed", 78)
    assert (delivery.last_error, delivery.last_status_code) == ("HTTP 503", 503)
    assert len(receiver.requests()) == 78


async def test_subscription_failing_for_72_hours_is_paused(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**MANUAL)
    receiver.status = 500
    clock = FakeClock()
    sender = sender_of(app, clock)
    subscription = await subscribe(tenant.client, receiver.url)
    await create_lead(tenant.client)
    try:
        assert await attempt_due(sender) == 1
        clock.advance(71 * 3600)
        assert await attempt_due(sender) == 1
        assert (await read_subscription(tenant.client, subscription["id"]))["status"] == "active"
        clock.advance(3600)
        assert await attempt_due(sender) == 1
        clock.advance(3600)
        assert await attempt_due(sender) == 0
    finally:
        await sender.aclose()
    assert (await read_subscription(tenant.client, subscription["id"]))["status"] == "paused"
    delivery = await the_delivery(app, subscription["id"])
    assert (delivery.status, delivery.attempt_count) == ("pending", 3)
    assert len(receiver.requests()) == 3


async def test_pending_deliveries_of_a_paused_subscription_go_out_when_it_resumes(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**MANUAL)
    sender = sender_of(app)
    subscription = await subscribe(tenant.client, receiver.url)
    url = f"/webhook/{subscription['id']}/"
    await create_lead(tenant.client)
    ok(await tenant.client.put(url, json={"status": "paused"}))
    try:
        assert await attempt_due(sender) == 0
        assert receiver.requests() == []
        ok(await tenant.client.put(url, json={"status": "active"}))
        assert await attempt_due(sender) == 1
    finally:
        await sender.aclose()
    assert len(receiver.requests()) == 1
    assert (await the_delivery(app, subscription["id"])).status == "delivered"


async def test_events_recorded_while_a_subscription_is_paused_are_never_delivered(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**MANUAL)
    sender = sender_of(app)
    subscription = await subscribe(tenant.client, receiver.url)
    url = f"/webhook/{subscription['id']}/"
    ok(await tenant.client.put(url, json={"status": "paused"}))
    await create_lead(tenant.client)
    ok(await tenant.client.put(url, json={"status": "active"}))
    try:
        assert await attempt_due(sender) == 0
    finally:
        await sender.aclose()
    assert receiver.requests() == []
    assert await deliveries(app, subscription["id"]) == []


async def test_deleting_a_failing_subscription_stops_its_retries(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**MANUAL)
    receiver.status = 500
    clock = FakeClock()
    sender = sender_of(app, clock)
    subscription = await subscribe(tenant.client, receiver.url)
    await create_lead(tenant.client)
    try:
        assert await attempt_due(sender) == 1
        ok(await tenant.client.delete(f"/webhook/{subscription['id']}/"))
        clock.advance(3600)
        assert await attempt_due(sender) == 0
    finally:
        await sender.aclose()
    assert len(receiver.requests()) == 1
    assert await deliveries(app, subscription["id"]) == []


async def test_delivered_event_is_never_sent_again(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**MANUAL)
    clock = FakeClock()
    sender = sender_of(app, clock)
    await subscribe(tenant.client, receiver.url)
    await create_lead(tenant.client)
    try:
        assert await attempt_due(sender) == 1
        clock.advance(100 * 3600)
        assert await attempt_due(sender) == 0
    finally:
        await sender.aclose()
    assert len(receiver.requests()) == 1


async def test_late_failure_from_a_worker_that_lost_its_claim_does_not_undo_a_2xx(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**MANUAL)
    clock = FakeClock()
    subscription = await subscribe(tenant.client, receiver.url)
    await create_lead(tenant.client)
    now = utcnow()
    async with app.state.database.transaction() as session:
        [stale] = await repository.claim_due(session, "stale", now, now + timedelta(seconds=1), 5)
    clock.advance(2)
    sender = sender_of(app, clock)
    try:
        assert await attempt_due(sender) == 1
    finally:
        await sender.aclose()
    policy = service.policy_of(app.state.settings)
    late = service.failed(stale, "Timeout", None, clock(), policy)
    async with app.state.database.transaction() as session:
        await service.record_outcomes(session, "stale", [late], policy.give_up_after, clock())
    delivery = await the_delivery(app, subscription["id"])
    assert (delivery.status, delivery.last_status_code, delivery.claimed_by) == (
        "delivered", 200, None,
    )  # fmt: skip


async def test_claim_of_a_dead_worker_is_sent_once_its_lease_expires(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**MANUAL)
    clock = FakeClock()
    sender = sender_of(app, clock)
    subscription = await subscribe(tenant.client, receiver.url)
    await create_lead(tenant.client)
    now = utcnow()
    async with app.state.database.transaction() as session:
        await repository.claim_due(session, "dead", now, now + timedelta(seconds=30), 5)
    try:
        assert await attempt_due(sender) == 0
        clock.advance(31)
        assert await attempt_due(sender) == 1
    finally:
        await sender.aclose()
    assert len(receiver.requests()) == 1
    assert (await the_delivery(app, subscription["id"])).status == "delivered"


async def test_live_worker_keeps_its_claim_on_a_slow_delivery(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**MANUAL)
    receiver.delay = 2.0
    short_lease: dict[str, Any] = {"dispatch_lease_seconds": 0.6, "webhook_timeout_seconds": 5.0}
    slow = sender_of(app, **short_lease)
    other = sender_of(app, **short_lease)
    await subscribe(tenant.client, receiver.url)
    await create_lead(tenant.client)
    running = asyncio.create_task(slow.run())
    try:
        await eventually(received_at_least(receiver, 1))
        await asyncio.sleep(1.0)
        assert await attempt_due(other) == 0
    finally:
        slow.stop()
        await running
        await other.aclose()
    assert len(receiver.requests()) == 1


async def test_restarted_worker_resumes_pending_deliveries(
    webhooks: DeliveryHarness, down_receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**{**MANUAL, **FAST})
    subscription = await subscribe(tenant.client, down_receiver.url)
    first = sender_of(app)
    running = asyncio.create_task(first.run())
    for _ in range(5):
        await create_lead(tenant.client)
    await eventually(all_attempted(app, subscription["id"], 5))
    first.stop()
    await running
    down_receiver.up()
    second = sender_of(app)
    running = asyncio.create_task(second.run())
    try:
        await eventually(received_at_least(down_receiver, 5))
        await asyncio.sleep(0.5)
    finally:
        second.stop()
        await running
    events = [request.json()["event"]["id"] for request in down_receiver.requests()]
    assert len(events) == len(set(events)) == 5
    rows = await deliveries(app, subscription["id"])
    assert {(row.status, row.claimed_by) for row in rows} == {("delivered", None)}


async def one_attempt_within(sender: WebhookSender, seconds: float) -> None:
    """The due delivery is attempted, and the attempt ends within ``seconds``; the sender
    is closed after."""
    try:
        started = time.monotonic()
        assert await attempt_due(sender) == 1
        assert time.monotonic() - started < seconds
    finally:
        await sender.aclose()


async def test_subscriber_slower_than_the_timeout_is_retried(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**MANUAL)
    receiver.delay = 3.0
    sender = sender_of(app, webhook_timeout_seconds=0.3)
    subscription = await subscribe(tenant.client, receiver.url)
    await create_lead(tenant.client)
    await one_attempt_within(sender, seconds=2.5)
    delivery = await the_delivery(app, subscription["id"])
    assert (delivery.status, delivery.attempt_count) == ("pending", 1)
    assert delivery.last_error == "Timeout: no answer within 0.3 s"


async def test_a_stalled_dns_lookup_counts_against_the_timeout(
    webhooks: DeliveryHarness, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The address check before each attempt looks the host up; a name server that stalls
    its answer held the attempt (and its slot) past ``webhook_timeout_seconds``."""

    async def stalled(host: str, port: int) -> list[str]:
        await asyncio.sleep(3.0)
        return ["93.184.216.34"]

    app, tenant = await webhooks.start(**MANUAL)
    sender = sender_of(app, webhook_timeout_seconds=0.3, webhooks_allow_private=False)
    subscription = await subscribe(tenant.client, receiver.url)
    await create_lead(tenant.client)
    monkeypatch.setattr(service, "resolve", stalled)
    await one_attempt_within(sender, seconds=2.5)
    assert receiver.requests() == []
    delivery = await the_delivery(app, subscription["id"])
    assert (delivery.status, delivery.attempt_count) == ("pending", 1)
    assert delivery.last_error == "Timeout: no answer within 0.3 s"


async def test_redirect_is_a_failure_and_is_not_followed(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**MANUAL)
    receiver.status = 302
    sender = sender_of(app)
    subscription = await subscribe(tenant.client, receiver.url)
    await create_lead(tenant.client)
    try:
        assert await attempt_due(sender) == 1
    finally:
        await sender.aclose()
    assert [request.path for request in receiver.requests()] == ["/hooks"]
    delivery = await the_delivery(app, subscription["id"])
    assert (delivery.status, delivery.last_status_code) == ("pending", 302)


async def test_private_destination_is_refused_again_at_delivery_time(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**MANUAL)
    sender = sender_of(app, webhooks_allow_private=False)
    subscription = await subscribe(tenant.client, receiver.url)
    await create_lead(tenant.client)
    try:
        assert await attempt_due(sender) == 1
    finally:
        await sender.aclose()
    assert receiver.requests() == []
    delivery = await the_delivery(app, subscription["id"])
    assert (delivery.status, delivery.last_status_code) == ("pending", None)
    assert delivery.last_error == "The URL resolves to a loopback or private address."


async def test_slow_subscribers_do_not_delay_email_sending(
    webhooks: DeliveryHarness, receiver: Receiver, smtp: SmtpServer
) -> None:
    settings = {**FAST, "webhook_concurrency": 2, "webhook_timeout_seconds": 5.0}
    _app, tenant = await webhooks.start(smtp.url, **settings)
    receiver.delay = 3.0
    await subscribe(tenant.client, receiver.url)
    leads = [await create_lead(tenant.client) for _ in range(6)]
    await eventually(received_at_least(receiver, 2))
    email = {
        "lead_id": leads[0]["id"], "status": "outbox", "sender": "jane@sender.example.com",
        "to": ["bob@buyer.example.com"], "subject": "Hi", "body_text": "Hello",
    }  # fmt: skip
    ok(await tenant.client.post("/activity/email/", json=email))

    async def email_arrived() -> bool:
        return len(smtp.messages()) == 1

    await eventually(email_arrived, within=2.0)
    assert len(receiver.requests()) == 2, "both webhook slots were still busy"


async def test_sender_wakes_when_an_event_is_queued(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**MANUAL)
    sender = sender_of(app, dispatch_poll_seconds=60.0)
    await subscribe(tenant.client, receiver.url)
    running = asyncio.create_task(sender.run())
    try:
        await asyncio.sleep(0.3)
        await create_lead(tenant.client)
        await eventually(received_at_least(receiver, 1), within=10.0)
    finally:
        sender.stop()
        await running


async def test_two_senders_running_at_once_post_each_event_once(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    """Two workers (``postroom serve`` and ``postroom worker``) share one queue: each claim
    takes deliveries the other has not (``SKIP LOCKED`` on PostgreSQL). All eight slots may
    send to the one subscription here, so both workers claim from it at once."""
    app, tenant = await webhooks.start(**MANUAL)
    receiver.delay = 0.02
    subscription = await subscribe(tenant.client, receiver.url)
    for _ in range(30):
        await create_lead(tenant.client)
    settings: dict[str, Any] = {
        "webhook_concurrency_per_subscription": 8,
        "dispatch_poll_seconds": 0.05,
    }
    senders = [sender_of(app, webhook_concurrency=4, **settings) for _ in "ab"]
    running = [asyncio.create_task(sender.run()) for sender in senders]
    try:
        await eventually(received_at_least(receiver, 30))
        await asyncio.sleep(0.5)
    finally:
        for sender in senders:
            sender.stop()
        await asyncio.gather(*running)
    events = [request.json()["event"]["id"] for request in receiver.requests()]
    assert len(events) == len(set(events)) == 30
    rows = await deliveries(app, subscription["id"])
    assert {(row.status, row.attempt_count) for row in rows} == {("delivered", 1)}
