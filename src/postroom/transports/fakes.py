"""Transports for tests and benchmarks: in memory, always failing, or slow.

Fault injection happens here, never by mocking Postroom's own code.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from postroom.transports.base import (
    BeforeData,
    DeliveryReceipt,
    OutgoingMessage,
    Transport,
)


@dataclass
class MemoryTransport:
    """Keeps every delivered message in ``sent``."""

    sent: list[OutgoingMessage] = field(default_factory=list)

    async def deliver(self, message: OutgoingMessage, before_data: BeforeData) -> DeliveryReceipt:
        await before_data()
        self.sent.append(message)
        return DeliveryReceipt(accepted=message.recipients, reply="250 kept in memory")

    async def close(self) -> None:
        return None


@dataclass
class FailingTransport:
    """Raises ``error`` for every message; ``after_data`` puts the failure in the sync gap.
    An error outside the delivery tree (a ``RuntimeError``) stands for a transport's bug."""

    error: Exception
    after_data: bool = False
    attempts: int = 0

    async def deliver(self, message: OutgoingMessage, before_data: BeforeData) -> DeliveryReceipt:
        self.attempts += 1
        if self.after_data:
            await before_data()
        raise self.error

    async def close(self) -> None:
        return None


@dataclass
class SlowTransport:
    """Waits ``delay`` seconds, then hands the message to ``inner``."""

    inner: Transport
    delay: float

    async def deliver(self, message: OutgoingMessage, before_data: BeforeData) -> DeliveryReceipt:
        await asyncio.sleep(self.delay)
        return await self.inner.deliver(message, before_data)

    async def close(self) -> None:
        await self.inner.close()


@dataclass
class GatedTransport:
    """Holds every message until ``opened`` is set, then hands it to ``inner``: deliveries
    that have not reached their sync-gap marker, like emails waiting in a busy lane."""

    inner: Transport
    opened: asyncio.Event = field(default_factory=asyncio.Event)

    async def deliver(self, message: OutgoingMessage, before_data: BeforeData) -> DeliveryReceipt:
        await self.opened.wait()
        return await self.inner.deliver(message, before_data)

    async def close(self) -> None:
        await self.inner.close()
