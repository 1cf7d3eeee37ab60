"""One subscription cannot take every delivery slot: at most
``webhook_concurrency_per_subscription`` of its deliveries are in flight at once (across
workers), each claim takes one delivery per subscription in turn, and a subscription whose
attempt got no answer waits until that delivery's retry time. A receiver that accepts
connections and never answers therefore delays no one else's webhooks.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from postroom.webhooks.sender import WebhookSender
from tests.conftest import create_tenant
from tests.dispatch.conftest import DeliveryHarness, eventually
from tests.helpers import create_lead
from tests.webhooks.conftest import Receiver, subscribe
from tests.webhooks.test_delivery import (
    FAST,
    MANUAL,
    deliveries,
    received_at_least,
    sender_of,
)

PER_SUBSCRIPTION: dict[str, Any] = {"webhook_concurrency_per_subscription": 2}
TIMEOUT = 4.0


async def test_a_receiver_that_never_answers_does_not_delay_another_organizations_webhooks(
    webhooks: DeliveryHarness, silent_receiver: Receiver, receiver: Receiver
) -> None:
    app, silent_tenant = await webhooks.start(**MANUAL)
    other = await create_tenant(app, app.state.database)
    await subscribe(silent_tenant.client, silent_receiver.url)
    for _ in range(12):
        await create_lead(silent_tenant.client)
    subscription = await subscribe(other.client, receiver.url)
    for _ in range(3):
        await create_lead(other.client)
    sender = sender_of(app, **{**FAST, **PER_SUBSCRIPTION, "webhook_timeout_seconds": TIMEOUT})
    running = asyncio.create_task(sender.run())
    started = time.monotonic()
    try:
        await eventually(received_at_least(receiver, 3))
        assert max(request.at for request in receiver.requests()) - started < TIMEOUT / 2
        assert len(silent_receiver.requests()) == 2
    finally:
        sender.stop()
        await running
        await other.client.aclose()
    rows = await deliveries(app, subscription["id"])
    assert {(row.status, row.attempt_count) for row in rows} == {("delivered", 1)}


async def test_two_workers_together_send_at_most_two_deliveries_of_one_subscription_at_once(
    webhooks: DeliveryHarness, silent_receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**MANUAL)
    await subscribe(tenant.client, silent_receiver.url)
    for _ in range(6):
        await create_lead(tenant.client)
    settings = {**FAST, **PER_SUBSCRIPTION, "webhook_timeout_seconds": TIMEOUT}
    senders = [sender_of(app, **settings) for _ in "ab"]
    running = [asyncio.create_task(sender.run()) for sender in senders]
    try:
        await eventually(received_at_least(silent_receiver, 2))
        await asyncio.sleep(0.8)
        assert len(silent_receiver.requests()) == 2
    finally:
        await stop(senders, running)


async def test_a_subscription_whose_attempt_got_no_answer_waits_for_its_retry_time(
    webhooks: DeliveryHarness, silent_receiver: Receiver
) -> None:
    """Its other due deliveries wait too: the first two attempts time out after 0.3 s, and
    nothing is sent to it until 1 s after that (without the hold, the third would follow
    the first timeout at once); then the others, and the retries, go out."""
    app, tenant = await webhooks.start(**MANUAL)
    subscription = await subscribe(tenant.client, silent_receiver.url)
    for _ in range(6):
        await create_lead(tenant.client)
    retry_after_a_second = {
        "webhook_timeout_seconds": 0.3,
        "webhook_retry_first_delay_seconds": 1.0,
        "webhook_retry_max_delay_seconds": 1.0,
    }
    sender = sender_of(app, **{**FAST, **PER_SUBSCRIPTION, **retry_after_a_second})
    running = asyncio.create_task(sender.run())
    try:
        await eventually(received_at_least(silent_receiver, 8), within=20.0)
    finally:
        await stop([sender], [running])
    first, _second, third, *_ = silent_receiver.requests()
    assert third.at - first.at >= 0.3 + 1.0 - 0.05
    events = [request.json()["event"]["id"] for request in silent_receiver.requests()[:8]]
    assert len(set(events[:6])) == 6
    assert set(events[6:]) <= set(events[:6])
    rows = await deliveries(app, subscription["id"])
    assert {row.status for row in rows} == {"pending"}
    assert {row.last_error for row in rows} == {"Timeout: no answer within 0.3 s"}


async def stop(senders: list[WebhookSender], running: list[asyncio.Task[None]]) -> None:
    for sender in senders:
        sender.stop()
    await asyncio.gather(*running)
