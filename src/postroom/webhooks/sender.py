"""The webhook sender: claims due deliveries, POSTs signed events, stores the outcomes.

It works like the email dispatcher (``docs/delivery.md``) with its own queue, claim columns and
concurrency limit (``webhook_concurrency``), so slow or failing subscribers never hold up email.
One loop claims as many due deliveries as there are free slots, and otherwise sleeps until the
next one is due (at most ``dispatch_poll_seconds``) or until woken by a commit that queued
deliveries. Each claimed delivery is sent by its own task; outcomes are group-committed.

Slots are shared fairly: a claim takes at most one delivery per subscription, and only of a
subscription with fewer than ``webhook_concurrency_per_subscription`` deliveries in flight
(any worker's); a subscription whose attempt got no answer is held back until that delivery's
retry time (``holds``). So a receiver that never answers ties up a few slots, not all.

What one attempt can end in::

    2xx answer                                   delivered (never sent again)
    any other status (3xx included: no redirects) ┐
    httpx.HTTPError (refused, reset, TLS, ...)    │ failed attempt: retried with backoff,
    TimeoutError (``webhook_timeout_seconds``,    │ then ``failed`` (see ``service``)
      the address check's DNS lookup included)    │
    destination now refused (DNS changed)         │
    signature key cannot be decrypted (ValueError)┘

The timeouts and ``httpx.TransportError`` are "no answer" (``NO_ANSWER``): they also hold the
subscription back; any HTTP answer lets it go again.

A worker that dies leaves claims whose lease expires; such deliveries are simply due again
(at least once). The address check before each attempt narrows, but cannot close, the window
in which a host's DNS answer changes between the check and httpx's own lookup.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.config import Settings
from postroom.db import Database
from postroom.dispatch.dispatcher import default_worker_id
from postroom.events.schemas import render_event
from postroom.kit.batching import GroupCommitter
from postroom.kit.datetimes import utcnow
from postroom.kit.secrets import SecretBox
from postroom.models import Event, WebhookDelivery, WebhookSubscription
from postroom.webhooks import repository, service
from postroom.webhooks.holds import Holds
from postroom.webhooks.service import DeliveryOutcome
from postroom.webhooks.signing import signature_headers

logger = logging.getLogger("postroom.webhooks")

Clock = Callable[[], datetime]
USER_AGENT = "Postroom-Webhooks/0.1"
SEND_ERRORS = (httpx.HTTPError, httpx.InvalidURL, TimeoutError, ValueError)
NO_ANSWER = (TimeoutError, httpx.TransportError)


@dataclass(frozen=True)
class Job:
    """One claimed delivery with what it needs to be sent."""

    delivery: WebhookDelivery
    subscription: WebhookSubscription
    event: Event


def payload(job: Job) -> bytes:
    document = {"event": render_event(job.event), "subscription_id": job.subscription.id}
    return json.dumps(document, separators=(",", ":")).encode()


def describe(error: Exception, timeout: float) -> str:
    if isinstance(error, TimeoutError | httpx.TimeoutException):
        return f"Timeout: no answer within {timeout:g} s"
    return f"{type(error).__name__}: {error}".rstrip(": ")


class WebhookSender:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        box: SecretBox,
        clock: Clock = utcnow,
        worker_id: str | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.box = box
        self.clock = clock
        self.worker_id = worker_id or f"webhooks:{default_worker_id()}"
        self.policy = service.policy_of(settings)
        self.lease = timedelta(seconds=settings.dispatch_lease_seconds)
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._clients: dict[bool, httpx.AsyncClient] = {}
        self._next_due: datetime | None = None
        self._holds = Holds()
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._results: GroupCommitter[DeliveryOutcome, None] = GroupCommitter(self._flush)

    # -- lifecycle -------------------------------------------------------------------------

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    async def run(self) -> None:
        """Send until ``stop()``; then finish in-flight attempts and release the rest."""
        self.database.webhook_listeners.append(self.wake)
        renewal = asyncio.create_task(self._renew_leases())
        try:
            await self._loop()
        finally:
            await self._shut_down(renewal)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                if await self.deliver_due() == 0:
                    await self._sleep(self._seconds_until_due())
            except Exception:
                logger.exception("webhook claiming failed; trying again")
                await self._sleep(self.settings.dispatch_poll_seconds)

    async def _shut_down(self, renewal: asyncio.Task[None]) -> None:
        self.database.webhook_listeners.remove(self.wake)
        renewal.cancel()
        await asyncio.gather(renewal, return_exceptions=True)
        await self.drain()
        try:
            async with self.database.transaction() as session:
                await repository.release_claims(session, self.worker_id)
        finally:
            await self.aclose()

    async def drain(self) -> None:
        """Wait until every in-flight attempt has finished and its outcome is stored."""
        while self._in_flight:
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    async def aclose(self) -> None:
        """Close the HTTP clients (``run()`` does it when it ends)."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def _sleep(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=max(seconds, 0.0))

    def _seconds_until_due(self) -> float:
        """Until the next due delivery seen by the last claim, or the end of a hold (at most
        the poll interval)."""
        poll = self.settings.dispatch_poll_seconds
        moments = [self._next_due, self._holds.next_release()]
        known = [moment for moment in moments if moment is not None]
        if not self._capacity() or not known:
            return poll
        return min(poll, (min(known) - self.clock()).total_seconds())

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                async with self.database.transaction() as session:
                    until = self.clock() + self.lease
                    await repository.renew_leases(
                        session, self.worker_id, list(self._in_flight), until
                    )
            except Exception:
                logger.exception("webhook lease renewal failed; trying again")

    # -- claiming --------------------------------------------------------------------------

    def _capacity(self) -> int:
        return max(self.settings.webhook_concurrency - len(self._in_flight), 0)

    async def deliver_due(self) -> int:
        """Claim what is due (within the free slots) and start sending it; return how many.

        When fewer than the free slots were due, also note when the next delivery is due.
        """
        limit = self._capacity()
        if limit == 0:
            return 0
        now = self.clock()
        per_subscription = self.settings.webhook_concurrency_per_subscription
        held = self._holds.held(now)
        async with self.database.transaction() as session:
            claimed = await repository.claim_due(
                session, self.worker_id, now, now + self.lease, limit,
                per_subscription=per_subscription, held=held,
            )  # fmt: skip
            jobs = await self._jobs(session, claimed)
            if len(claimed) < limit:
                self._next_due = await repository.next_due_at(
                    session, now, per_subscription=per_subscription, held=held
                )
        for job in jobs:
            self._start(job)
        return len(claimed)

    async def _jobs(
        self, session: AsyncSession, deliveries: Sequence[WebhookDelivery]
    ) -> list[Job]:
        if not deliveries:
            return []
        subscriptions = await repository.subscriptions_by_ids(
            session, {delivery.subscription_id for delivery in deliveries}
        )
        events = await repository.events_by_ids(session, {d.event_id for d in deliveries})
        return [
            Job(delivery, subscriptions[delivery.subscription_id], events[delivery.event_id])
            for delivery in deliveries
            if delivery.subscription_id in subscriptions and delivery.event_id in events
        ]

    def _start(self, job: Job) -> None:
        delivery_id = job.delivery.id
        task = asyncio.create_task(self._deliver(job))
        self._in_flight[delivery_id] = task
        task.add_done_callback(lambda _task: self._finished(delivery_id))

    def _finished(self, delivery_id: str) -> None:
        self._in_flight.pop(delivery_id, None)
        self._wakeup.set()

    # -- sending ---------------------------------------------------------------------------

    async def _deliver(self, job: Job) -> None:
        try:
            await self._results.submit(await self._attempt(job))
        except Exception:
            logger.exception("webhook delivery %s failed unexpectedly", job.delivery.id)

    async def _attempt(self, job: Job) -> DeliveryOutcome:
        """One attempt, bounded by ``webhook_timeout_seconds`` from the address check (a DNS
        lookup the receiver's name server may stall) to the answer's status line."""
        timeout = self.settings.webhook_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                problem = await service.url_problem(
                    job.subscription.url, self.settings.webhooks_allow_private
                )
                if problem is not None:
                    return self._failed(job, problem, None)
                status_code = await self._post(job)
        except SEND_ERRORS as error:
            outcome = self._failed(job, describe(error, timeout), None)
            if isinstance(error, NO_ANSWER):
                self._hold_back(outcome)
            return outcome
        self._holds.release(job.subscription.id)
        if 200 <= status_code < 300:
            return service.delivered(job.delivery, status_code, self.clock())
        return self._failed(job, f"HTTP {status_code}", status_code)

    def _hold_back(self, outcome: DeliveryOutcome) -> None:
        """No answer: hold the subscription back until the delivery's retry time (if any)."""
        if outcome.row["status"] == repository.PENDING:
            self._holds.hold(outcome.subscription_id, outcome.row["due_at"])

    def _failed(self, job: Job, error: str, status_code: int | None) -> DeliveryOutcome:
        logger.info("webhook delivery %s failed: %s", job.delivery.id, error)
        return service.failed(job.delivery, error, status_code, self.clock(), self.policy)

    async def _post(self, job: Job) -> int:
        body = payload(job)
        key = self.box.open(job.subscription.signature_key_sealed)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **signature_headers(int(self.clock().timestamp()), body, key),
        }
        client = self._client(job.subscription.verify_ssl)
        request = client.stream("POST", job.subscription.url, content=body, headers=headers)
        async with request as response:
            return response.status_code

    def _client(self, verify_ssl: bool) -> httpx.AsyncClient:
        if verify_ssl not in self._clients:
            self._clients[verify_ssl] = httpx.AsyncClient(
                verify=verify_ssl,
                timeout=self.settings.webhook_timeout_seconds,
                follow_redirects=False,
                trust_env=False,
                limits=httpx.Limits(max_connections=self.settings.webhook_concurrency),
            )
        return self._clients[verify_ssl]

    async def _flush(self, outcomes: list[DeliveryOutcome]) -> list[None]:
        now = self.clock()
        async with self.database.transaction() as session:
            paused = await service.record_outcomes(
                session, self.worker_id, outcomes, self.policy.give_up_after, now
            )
        for subscription_id in paused:
            logger.warning("webhook subscription %s paused after failing too long", subscription_id)
        return [None] * len(outcomes)


def build_webhook_sender(database: Database, settings: Settings) -> WebhookSender:
    return WebhookSender(database, settings, service.sealing_box(settings))


@asynccontextmanager
async def running_sender(sender: WebhookSender) -> AsyncIterator[WebhookSender]:
    task = asyncio.create_task(sender.run())
    try:
        yield sender
    finally:
        sender.stop()
        with suppress(asyncio.CancelledError):
            await task
