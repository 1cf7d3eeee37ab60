"""Lanes: each sending route delivers a fixed number of emails at a time, in claim order.

A route's claimed emails wait in its queue; each lane is a coroutine that takes the next one,
builds its message and hands it to the transport, then takes the next. A pooled transport
gets as many lanes as it has connections, so a message is built only when a connection is
free for it (the first emails of a claim of 5,000 leave at once, and built messages, with
their attachments, never pile up in memory). One task per email, queued on semaphores in
front of the pool, cost several times the asyncio work of a lane per message.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
logger = logging.getLogger("postroom.dispatch")

UNPOOLED_LANES = 16
"""Lanes of a transport that says nothing of its connections (Maildir capture, test fakes)."""


class Lanes(Generic[T]):
    """Runs ``work`` on queued items, at most ``width`` at a time, in the order added."""

    def __init__(self, width: int, work: Callable[[T], Awaitable[None]]) -> None:
        self.width = width
        self._work = work
        self._queue: deque[T] = deque()
        self._lanes: set[asyncio.Task[None]] = set()

    def add(self, item: T) -> None:
        self._queue.append(item)
        if len(self._lanes) < self.width:
            lane = asyncio.create_task(self._run())
            self._lanes.add(lane)
            lane.add_done_callback(self._lanes.discard)

    async def _run(self) -> None:
        while self._queue:
            try:
                await self._work(self._queue.popleft())
            except Exception:  # the work handles its own failures; a lane never stops early
                logger.exception("a lane's work failed")

    def take_waiting(self) -> list[T]:
        """Remove and return the items no lane has started; the lanes finish the ones they are
        working on, then stop."""
        waiting, self._queue = list(self._queue), deque()
        return waiting

    async def cancel(self) -> list[T]:
        """Stop every lane (the item each was working on is abandoned); return the items
        still waiting."""
        waiting, self._queue = list(self._queue), deque()
        lanes = list(self._lanes)
        for lane in lanes:
            lane.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
        return waiting
