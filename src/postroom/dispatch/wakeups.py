"""PostgreSQL LISTEN/NOTIFY: a change of a due time in any process wakes every dispatcher."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg
from psycopg import sql

from postroom.db import sync_url
from postroom.dispatch.repository import DUE_CHANNEL

logger = logging.getLogger("postroom.dispatch")


def libpq_url(database_url: str) -> str:
    return sync_url(database_url).set(drivername="postgresql").render_as_string(False)


async def listen_for_due_changes(database_url: str, wake: Callable[[], None]) -> None:
    """Call ``wake`` on every notification; reconnect after errors until cancelled."""
    while True:
        try:
            await _listen(libpq_url(database_url), wake)
        except psycopg.Error as error:
            logger.warning("LISTEN connection lost (%s); retrying in 1 s", error)
            wake()
            await asyncio.sleep(1)


async def _listen(url: str, wake: Callable[[], None]) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(DUE_CHANNEL)))
        wake()
        async for _notification in connection.notifies():
            wake()
