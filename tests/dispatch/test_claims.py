"""A dispatcher claims due emails in chunks: the first ones go out while the next are claimed."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.app import build_dispatcher
from postroom.db import Database
from postroom.dispatch.dispatcher import CLAIM_CHUNK
from postroom.models import EmailActivity
from postroom.transports.fakes import MemoryTransport, SlowTransport
from tests.dispatch.conftest import delivery_settings, empty_queue
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
