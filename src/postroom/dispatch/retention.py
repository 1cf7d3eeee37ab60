"""What the dispatcher's housekeeping removes once it is past keeping: events past their
retention (``event_retention_days``), files nobody referenced within 24 h, and expired
idempotency keys. Each kind in its own transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from postroom.config import Settings
from postroom.db import Database
from postroom.events.service import remove_old_events
from postroom.files.service import files_config, remove_expired_files
from postroom.idempotency.service import remove_expired_keys


async def remove_expired(database: Database, settings: Settings, now: datetime) -> tuple[int, int]:
    """Remove events past their retention and files nobody referenced within 24 h; return how
    many events and files were removed."""
    keep = timedelta(days=settings.event_retention_days)
    storage = files_config(settings, settings.max_file_bytes).storage
    async with database.transaction() as session:
        events = await remove_old_events(session, keep, now)
    async with database.transaction() as session:
        files = await remove_expired_files(session, storage, now)
    async with database.transaction() as session:
        await remove_expired_keys(session, now)
    return events, files
