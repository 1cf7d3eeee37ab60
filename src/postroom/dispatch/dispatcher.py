"""The dispatcher: claims due emails, sends them, stores outcomes, and recovers after crashes.

One loop claims batches while there is capacity, and otherwise sleeps until the next email is
due (at most ``dispatch_poll_seconds``), or until woken by a commit that changed a due time.
Claimed emails wait in their sending route's lanes (``dispatch.lanes``). Two group commits
keep the database writes few: the sync-gap markers of the emails about to hand their data
over, and the outcomes (with their events) of the emails that finished. They are separate
because a lane waits for its marker and never for an outcome: on PostgreSQL the markers then
commit while an outcome transaction runs on another connection. The outcomes are written by
``dispatch.storing``, and dead workers' claims recovered by ``dispatch.recovery``.
See ``docs/delivery.md``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from postroom.accounts.service import SendingRoute
from postroom.config import Settings
from postroom.db import Database
from postroom.dispatch import followups, outcomes
from postroom.dispatch import repository as repo
from postroom.dispatch.attachments import attachment_payloads
from postroom.dispatch.claiming import CLAIM_CHUNK, Route, claim_due_emails
from postroom.dispatch.lanes import Lanes
from postroom.dispatch.mime import outgoing_message
from postroom.dispatch.policy import RetryPolicy
from postroom.dispatch.recovery import recover_expired_claims
from postroom.dispatch.retention import purge_regularly, remove_expired
from postroom.dispatch.routing import TransportRegistry
from postroom.dispatch.storing import store_group
from postroom.dispatch.wakeups import listen_for_due_changes
from postroom.emails.rendering import EmailColumns
from postroom.kit.batching import GroupCommitter
from postroom.kit.datetimes import utcnow
from postroom.kit.ids import new_id
from postroom.kit.text import storable_text
from postroom.tracking.service import pixel_url
from postroom.transports import DeliveryError, OutgoingMessage, PermanentDeliveryError

logger = logging.getLogger("postroom.dispatch")

Clock = Callable[[], datetime]


class ClaimLost(Exception):
    """Another worker took the email over (our lease had expired): do not send it."""


@dataclass(frozen=True)
class Delivery:
    email: EmailColumns
    route: SendingRoute


@dataclass
class Handover:
    """Whether a delivery's message data may have left: its sync-gap marker is stored."""

    started: bool = False


async def _cancelled(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{new_id('w')[-8:]}"


class Dispatcher:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        registry: TransportRegistry,
        clock: Clock = utcnow,
        worker_id: str | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.registry = registry
        self.clock = clock
        self.worker_id = worker_id or default_worker_id()
        self.policy = RetryPolicy.from_settings(settings)
        self.lease = timedelta(seconds=settings.dispatch_lease_seconds)
        self._renewal_interval = settings.dispatch_lease_seconds / 3
        self._store_tries = max(
            math.ceil(settings.dispatch_lease_seconds / settings.dispatch_poll_seconds), 2
        )
        """How often an outcome is written before it is left to recovery (one try per poll
        interval, for about a lease's length)."""
        self._in_flight: dict[str, EmailColumns] = {}
        """Claimed emails not yet finished (queued in a lane, sending, or being stored)."""
        self._idle = asyncio.Event()
        self._idle.set()
        self._lanes: dict[str, Lanes[Delivery]] = {}
        """Each sending route's lanes, by route key."""
        self._backlog = False
        """The last claim filled every free slot: more may be due once slots free up."""
        self._followups = followups.FollowupTimer(next_due=clock(), put_off_until=clock())
        """The first round looks for due follow-ups once, whatever there is."""
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._markers: GroupCommitter[repo.ClaimKey, bool] = GroupCommitter(self._write_markers)
        self._outcomes: GroupCommitter[dict[str, Any], Exception | None] = GroupCommitter(
            self._write_outcomes
        )

    # -- lifecycle -------------------------------------------------------------------------

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    async def run(self) -> None:
        """Dispatch until ``stop()``; then finish the sends already started and give back the
        claims of the emails still waiting in a lane, so that another worker (or the next
        start) sends them at once."""
        self.database.due_listeners.append(self.wake)
        purging = purge_regularly(
            self.database, self.settings, self.clock, retry_seconds=self._renewal_interval
        )
        housekeeping = [asyncio.create_task(self._renewing()), asyncio.create_task(purging)]
        helpers = []
        if not self.database.is_sqlite:
            helpers.append(
                asyncio.create_task(listen_for_due_changes(self.database.url, self.wake))
            )
        try:
            await self._loop()
        finally:
            await self._shut_down(helpers, housekeeping)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                await self._round()
            except Exception:
                # A database that is down or overloaded must not stop delivery for good.
                logger.exception("dispatching failed; trying again")
                await self._sleep(self.settings.dispatch_poll_seconds)

    async def _round(self) -> None:
        if self._followups.is_due(self.clock()):
            await self._create_followups_or_put_off()
        await self._sleep(await self.dispatch_due())

    async def _create_followups_or_put_off(self) -> None:
        """Follow-ups that cannot be created (a bug, a row the database refuses) must not
        stop delivery: the round goes on to claim emails, and follow-ups wait a minute."""
        try:
            await self.create_due_followups()
        except Exception:
            logger.exception("creating follow-up tasks failed; trying again in a minute")
            self._followups.put_off(self.clock())

    async def _shut_down(
        self, helpers: list[asyncio.Task[None]], housekeeping: list[asyncio.Task[None]]
    ) -> None:
        """Housekeeping goes on until the sends under way are stored: it renews their leases,
        which a send slower than the lease (a server slow to answer the data) outlives, and
        another worker's recovery would otherwise take such an email for a dead worker's."""
        self.database.due_listeners.remove(self.wake)
        await _cancelled(helpers)
        for lanes in self._lanes.values():
            for waiting in lanes.take_waiting():
                self._finished(waiting.email)
        try:
            await self.drain()
        finally:
            await _cancelled(housekeeping)
        async with self.database.transaction() as session:
            if await repo.release_unstarted(session, self.worker_id):
                await repo.signal_due_change(session)
        await self.registry.close()

    async def drain(self) -> None:
        """Wait for every claimed email to be delivered and its outcome stored."""
        await self._idle.wait()

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout=max(seconds, 0.0))
        except TimeoutError:
            pass

    # -- follow-ups ------------------------------------------------------------------------

    async def create_due_followups(self) -> int:
        """Create the follow-up tasks now due (``dispatch.followups``), in one transaction."""
        now = self.clock()
        return await self.database.run(
            lambda session: followups.create_due_followups(
                session, now, self.settings.dispatch_batch_size
            )
        )

    # -- claiming --------------------------------------------------------------------------

    def _capacity(self) -> int:
        return max(self.settings.dispatch_batch_size - len(self._in_flight), 0)

    async def dispatch_due(self) -> float:
        """Claim what is due (within capacity) and start delivering it; return how many seconds
        may pass before anything else comes due (the loop sleeps that long unless woken).

        One transaction claims, finds the sending routes and, unless the claim came back full,
        reads when the next email and the next follow-up are due. A claim takes at most
        ``CLAIM_CHUNK`` emails; a full one with slots still free is followed by the next at
        once, while the first chunk is already going out.
        """
        free = self._capacity()
        limit = min(free, CLAIM_CHUNK)
        now = self.clock()
        claim = await self.database.run(
            lambda session: claim_due_emails(
                session, self.registry, self.worker_id, now, self.lease, limit
            )
        )
        full = bool(limit) and len(claim.emails) == limit
        if limit:  # with no free slot, the backlog (if any) is still waiting
            self._backlog = full and limit == free
        for email in claim.emails:
            self._start(email, claim.routes[email.id])
        seconds = self._seconds_until(claim.next_due, claim.next_followup, now)
        return 0.0 if full and limit < free else seconds

    def _seconds_until(
        self, next_due: datetime | None, next_followup: datetime | None, now: datetime
    ) -> float:
        """Until the next due moment, at most the poll interval; notes when the next follow-up
        is due. Every round reads that afresh, so a round claims follow-ups only when one is
        due, not every poll (a transaction a second, and on SQLite the one connection)."""
        poll = timedelta(seconds=self.settings.dispatch_poll_seconds)
        self._followups.next_due = next_followup
        wakes = (next_due, self._followups.wake_at())
        moments = [moment - now for moment in wakes if moment is not None]
        return min([poll, *moments]).total_seconds()

    def _start(self, email: EmailColumns, route: Route) -> None:
        self._in_flight[email.id] = email
        self._idle.clear()
        if isinstance(route, SendingRoute):
            self._lanes_of(route).add(Delivery(email, route))
        else:
            problem = str(route) if route is not None else None
            self._store(email, outcomes.no_account(email, self.clock(), problem))

    def _lanes_of(self, route: SendingRoute) -> Lanes[Delivery]:
        if route.key not in self._lanes:
            self._lanes[route.key] = Lanes(self.registry.width(route), self._deliver)
        return self._lanes[route.key]

    def _finished(self, email: EmailColumns) -> None:
        """Claim again once half the slots are free, if the last claim left emails behind
        (claiming for every freed slot would cost a transaction per email). A delivery of an
        earlier claim of an email claimed again since leaves the new claim in flight."""
        if self._in_flight.get(email.id) is email:
            del self._in_flight[email.id]
        if not self._in_flight:
            self._idle.set()
        if self._backlog and len(self._in_flight) <= self.settings.dispatch_batch_size // 2:
            self._backlog = False
            self._wakeup.set()

    # -- delivering ------------------------------------------------------------------------

    async def _deliver(self, delivery: Delivery) -> None:
        """One email, in one of its route's lanes; the lane goes on with the next email while
        the outcome is written."""
        email = delivery.email
        outcome = None
        handover = Handover()
        try:
            outcome = await self._build_and_send(email, delivery.route, handover)
        except ClaimLost:
            logger.warning("email %s was taken over by another worker; not sent", email.id)
        except Exception as error:
            logger.exception("delivery of %s failed unexpectedly", email.id)
            problem = outcomes.unexpected(error, handover.started)
            outcome = outcomes.failed(email, problem, self.clock(), self.policy)
        finally:
            if outcome is None:
                self._finished(email)
        if outcome is not None:
            self._store(email, outcome)

    def _store(self, email: EmailColumns, outcome: dict[str, Any], tries: int = 1) -> None:
        written = self._outcomes.submit_nowait(outcome)
        written.add_done_callback(lambda _written: self._stored(email, outcome, tries, _written))

    def _stored(
        self,
        email: EmailColumns,
        outcome: dict[str, Any],
        tries: int,
        written: asyncio.Future[Exception | None],
    ) -> None:
        """An outcome that could not be written (the database is down) is written again each
        poll interval, for about a lease's length, the email still in flight so that its lease
        is renewed meanwhile: given up at once, a delivered email would expire into
        ``DeliveryUnknown``. A stopping dispatcher tries once more, then leaves it to recovery,
        as it does an outcome that keeps failing (not an outage, then: a value the database
        refuses; the other outcomes of its group commit are stored one by one meanwhile)."""
        error = None if written.cancelled() else written.exception() or written.result()
        if error is not None and tries < self._store_tries and not self._stopping.is_set():
            logger.warning("the outcome of %s was not stored; trying again", email.id)
            delay = self.settings.dispatch_poll_seconds
            asyncio.get_running_loop().call_later(delay, self._store, email, outcome, tries + 1)
            return
        if error is not None:
            logger.error(
                "the outcome of %s was not stored; its lease will expire", email.id, exc_info=error
            )
        self._finished(email)

    async def _build_and_send(
        self, email: EmailColumns, route: SendingRoute, handover: Handover
    ) -> dict[str, Any]:
        now = self.clock()
        try:
            attachments = await attachment_payloads(self.database, self.settings, email)
            message = outgoing_message(email, now, self._pixel_url(email), attachments)
        except PermanentDeliveryError as error:
            return outcomes.failed(email, error, now, self.policy)
        except (ValueError, TypeError, IndexError) as error:
            problem = PermanentDeliveryError(f"the message could not be built: {error}")
            return outcomes.failed(email, problem, now, self.policy)
        return await self._send(email, message, route, handover)

    def _pixel_url(self, email: EmailColumns) -> str | None:
        if not (self.settings.track_opens and email.open_token and email.body_html):
            return None
        return pixel_url(self.settings.public_url, email.open_token)

    async def _send(
        self, email: EmailColumns, message: OutgoingMessage, route: SendingRoute, handover: Handover
    ) -> dict[str, Any]:
        async def before_data() -> None:
            if not await self._markers.submit((email.id, email.claimed_at)):
                raise ClaimLost(email.id)
            handover.started = True

        transport = self.registry.transport(route)
        try:
            receipt = await transport.deliver(message, before_data)
        except DeliveryError as error:
            problem = storable_text(error.message)
            logger.info("delivery of %s failed: %s %s", email.id, error.error_class, problem)
            failed = outcomes.failed(email, error, self.clock(), self.policy)
            return outcomes.with_account_health(failed, route.account_id, error)
        sent = outcomes.sent(email, receipt, self.clock())
        return outcomes.with_account_health(sent, route.account_id, None)

    async def _write_markers(self, claims: list[repo.ClaimKey]) -> list[bool]:
        now = self.clock()
        marked = await self.database.run(
            lambda session: repo.mark_send_started(session, self.worker_id, claims, now)
        )
        return [claim in marked for claim in claims]

    async def _write_outcomes(self, results: list[dict[str, Any]]) -> list[Exception | None]:
        return await store_group(self.database, self.worker_id, results)

    # -- leases and recovery ---------------------------------------------------------------

    async def _renewing(self) -> None:
        """Every third of the lease, renew the leases in flight and recover dead workers'
        claims: a task of its own, as waiting for a long purge let sends outlive leases."""
        while True:
            try:
                await self.renew_and_recover()
            except Exception:
                logger.exception("renewing leases failed; trying again")
            await asyncio.sleep(self._renewal_interval)

    async def purge_expired(self) -> tuple[int, int]:
        """Remove what is past keeping (``dispatch.retention``): (events, files) removed."""
        return await remove_expired(self.database, self.settings, self.clock())

    async def renew_and_recover(self) -> None:
        now = self.clock()
        in_flight = list(self._in_flight)
        await self.database.run(
            lambda session: repo.renew_leases(session, self.worker_id, in_flight, now + self.lease)
        )
        await recover_expired_claims(self.database, now)
