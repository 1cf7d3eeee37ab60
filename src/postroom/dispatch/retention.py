"""What the dispatcher's housekeeping removes once it is past keeping: events past their
retention (``event_retention_days``), files nobody referenced within 24 h, and expired
idempotency keys.

Each kind goes in transactions of at most ``PURGE_BATCH`` rows, one after the other until a
batch comes back short. One ``DELETE`` of everything held SQLite's one write lock (and the
process's one writer connection) for as long as it took, seconds for a million events, and
every claim, sync-gap marker, outcome and lease renewal waited behind it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.config import Settings
from postroom.db import Database
from postroom.events.service import remove_old_events
from postroom.files.service import files_config, remove_expired_files
from postroom.idempotency.service import remove_expired_keys

logger = logging.getLogger("postroom.dispatch")

PURGE_INTERVAL = timedelta(minutes=10)
PURGE_BATCH = 1000
"""Rows a purge transaction removes at most: a few tens of milliseconds of SQLite's write lock
for events of a few KB each."""

Removal = Callable[[AsyncSession], Awaitable[int]]


async def purge_regularly(
    database: Database, settings: Settings, clock: Callable[[], datetime], retry_seconds: float
) -> None:
    """Purge (``remove_expired``) at once, then every ``PURGE_INTERVAL``, until cancelled; a
    purge that failed is tried again ``retry_seconds`` later. The dispatcher runs this as a
    task of its own: lease renewal never waits for a purge."""
    next_purge = clock()
    while True:
        if clock() >= next_purge:
            try:
                await remove_expired(database, settings, clock())
                next_purge = clock() + PURGE_INTERVAL
            except Exception:
                logger.exception("purging failed; trying again")
        await asyncio.sleep(retry_seconds)


async def remove_expired(
    database: Database, settings: Settings, now: datetime, batch: int = PURGE_BATCH
) -> tuple[int, int]:
    """Remove events past their retention, files nobody referenced within 24 h and expired
    idempotency keys, ``batch`` rows a transaction; return how many events and files were
    removed."""
    keep = timedelta(days=settings.event_retention_days)
    storage = files_config(settings, settings.max_file_bytes).storage
    events = await _in_batches(
        database, batch, lambda session: remove_old_events(session, keep, now, batch)
    )
    files = await _in_batches(
        database, batch, lambda session: remove_expired_files(session, storage, now, batch)
    )
    await _in_batches(database, batch, lambda session: remove_expired_keys(session, now, batch))
    return events, files


async def _in_batches(database: Database, batch: int, removal: Removal) -> int:
    """Run ``removal`` (up to ``batch`` rows) in one transaction after another until it
    removes fewer; return how many rows went. Between two, whatever waits for the connection
    (SQLite's one writer) takes it first: the pool would hand it straight back to us."""
    removed = 0
    while True:
        async with database.transaction() as session:
            count = await removal(session)
        removed += count
        if count < batch:
            return removed
        await asyncio.sleep(0)
