"""A dispatcher claims due emails in chunks: the first ones go out while the next are claimed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.app import build_dispatcher
from postroom.db import Database
from postroom.dispatch.claiming import CLAIM_CHUNK
from postroom.dispatch.lanes import UNPOOLED_LANES
from postroom.models import EmailActivity
from postroom.transports.fakes import MemoryTransport, SlowTransport
from tests.dispatch.conftest import delivery_settings, empty_queue, eventually
from tests.dispatch.workers import queue_outbox_emails


async def claimed(database: Database) -> int:
    async def count(session: AsyncSession) -> int:
        statement = select(func.count()).where(EmailActivity.claimed_by.is_not(None))
        return int(await session.scalar(statement) or 0)

    return await database.run(count)


async def test_a_claim_takes_one_chunk_and_the_next_chunk_follows_at_once(
    delivery_database_url: str, tmp_path: Path
) -> None:
    """1,200 emails due and 1,200 free slots: two full chunks of 500, each followed by the
    next claim without sleeping, then the last 200, which fill every free slot (the dispatcher
    then waits for slots to free up)."""
    await empty_queue(delivery_database_url)
    await queue_outbox_emails(delivery_database_url, tmp_path, 1200)
    settings = delivery_settings(
        delivery_database_url, "capture://", tmp_path, dispatch_batch_size=1200
    )
    database = Database(delivery_database_url)
    held = SlowTransport(MemoryTransport(), delay=60)  # nothing finishes during the test
    dispatcher = build_dispatcher(database, settings, held)
    rounds: list[tuple[float, int]] = []
    try:
        for _ in range(3):
            sleep = await dispatcher.dispatch_due()
            rounds.append((sleep, await claimed(database)))
    finally:
        for lanes in dispatcher._lanes.values():
            await lanes.cancel()
        await database.dispose()
        await empty_queue(delivery_database_url)
    assert CLAIM_CHUNK == 500
    assert rounds[0] == (0.0, 500)
    assert rounds[1] == (0.0, 1000)
    assert rounds[2][1] == 1200
    assert rounds[2][0] > 0


async def test_a_stopping_dispatcher_finishes_the_sends_it_started_and_gives_back_the_rest(
    delivery_database_url: str, tmp_path: Path
) -> None:
    """docs/delivery.md: a graceful stop "finishes in-flight deliveries and releases claims
    that never started". 40 emails due, 16 lanes, each send taking half a second: the 16
    being sent are sent, the 24 waiting in a lane are released unsent, and the stop takes
    one send's time, not three rounds of them."""
    await empty_queue(delivery_database_url)
    await queue_outbox_emails(delivery_database_url, tmp_path, 40)
    settings = delivery_settings(delivery_database_url, "capture://", tmp_path)
    database = Database(delivery_database_url)
    memory = MemoryTransport()
    dispatcher = build_dispatcher(database, settings, SlowTransport(memory, delay=0.5))
    running = asyncio.create_task(dispatcher.run())
    try:
        await eventually(lambda: some_claimed(database))
        stopping = time.monotonic()
        dispatcher.stop()
        await running
        took = time.monotonic() - stopping
        statuses = await status_counts(database)
    finally:
        await database.dispose()
        await empty_queue(delivery_database_url)
    assert len(memory.sent) == UNPOOLED_LANES == 16
    assert statuses == {("sent", False): 16, ("outbox", False): 24}
    assert took < 1.5


async def some_claimed(database: Database) -> bool:
    return await claimed(database) > 0


async def status_counts(database: Database) -> dict[tuple[str, bool], int]:
    """How many emails have each status, and whether they are still claimed."""

    async def count(session: AsyncSession) -> dict[tuple[str, bool], int]:
        claimed = EmailActivity.claimed_by.is_not(None)
        statement = select(EmailActivity.status, claimed, func.count()).group_by(
            EmailActivity.status, claimed
        )
        return {(status, held): n for status, held, n in (await session.execute(statement))}

    return await database.run(count)
