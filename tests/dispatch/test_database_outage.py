"""A database that is briefly down loses no outcome: an email the server accepted is stored
``sent`` once the database is back, not left to expire into ``error`` (``DeliveryUnknown``).

The outage starts at the worst moment, right after the SMTP server accepted the message and
before the outcome is written; the transport below starts it (fault injection through the
transport and the database's edge, as a network cut would).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.db import Database
from postroom.dispatch.dispatcher import Dispatcher
from postroom.dispatch.routing import TransportRegistry
from postroom.kit.secrets import secret_box
from postroom.transports import BeforeData, DeliveryReceipt, OutgoingMessage
from postroom.transports.fakes import MemoryTransport
from tests.dispatch.conftest import delivery_settings, empty_queue, eventually
from tests.dispatch.workers import load_emails, queue_outbox_emails

T = TypeVar("T")
OUTAGE_SECONDS = 1.5


class FlakyDatabase(Database):
    """A database whose transactions fail (connection refused) while it is ``down``."""

    down_until = 0.0

    def go_down(self, seconds: float) -> None:
        self.down_until = time.monotonic() + seconds

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        if time.monotonic() < self.down_until:
            raise ConnectionRefusedError("the database is down")
        return await super().run(work)


@dataclass
class OutageOnAcceptance:
    """Delivers to memory, then the database goes down for ``OUTAGE_SECONDS``."""

    database: FlakyDatabase
    inner: MemoryTransport

    async def deliver(self, message: OutgoingMessage, before_data: BeforeData) -> DeliveryReceipt:
        receipt = await self.inner.deliver(message, before_data)
        self.database.go_down(OUTAGE_SECONDS)
        return receipt

    async def close(self) -> None:
        return None


async def test_an_accepted_email_is_stored_sent_after_a_brief_database_outage(
    delivery_database_url: str, tmp_path: Path
) -> None:
    await empty_queue(delivery_database_url)
    [email_id] = await queue_outbox_emails(delivery_database_url, tmp_path, 1)
    settings = delivery_settings(delivery_database_url, "", tmp_path, dispatch_lease_seconds=30)
    database = FlakyDatabase(delivery_database_url)
    memory = MemoryTransport()
    registry = TransportRegistry(
        settings, secret_box("test-secret", tmp_path), OutageOnAcceptance(database, memory)
    )
    dispatcher = Dispatcher(database, settings, registry)
    running = asyncio.create_task(dispatcher.run())

    async def stored_sent() -> bool:
        [email] = await load_emails(delivery_database_url)
        return email.status == "sent" and email.claimed_by is None

    try:
        await eventually(stored_sent, within=15.0)
    finally:
        dispatcher.stop()
        await running
        await database.dispose()
    [email] = await load_emails(delivery_database_url)
    assert email.id == email_id
    assert email.send_attempts == []
    assert len(memory.sent) == 1
