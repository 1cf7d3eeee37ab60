"""A graceful stop finishes the sends already started, and keeps holding their emails while it
does: their leases are renewed until every outcome is stored, so no other worker's recovery
takes them for dead in the meantime.

A slow server (its 250 to the message data comes after several lease lengths) stands for any
send that takes longer than the lease, which a live worker covers by renewing it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import select

from postroom.db import Database
from postroom.dispatch.recovery import recover_expired_claims
from postroom.kit.datetimes import utcnow
from postroom.models import EmailActivity
from tests.dispatch.conftest import DeliveryHarness, eventually
from tests.dispatch.test_failures import read, send
from tests.smtp_server import SmtpServer

LEASE_SECONDS = 0.6
SLOW_DATA_SECONDS = 4 * LEASE_SECONDS


async def recover_until(database: Database, done: asyncio.Event) -> None:
    """Another worker's housekeeping: it recovers expired claims, again and again."""
    while not done.is_set():
        await recover_expired_claims(database, utcnow())
        await asyncio.sleep(LEASE_SECONDS / 4)


async def test_a_send_finishing_during_a_graceful_stop_keeps_its_claim_until_stored(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    smtp.behaviour.delay = SLOW_DATA_SECONDS
    app, tenant = await harness.start(smtp.url, dispatch_lease_seconds=LEASE_SECONDS)
    email = await send(tenant, cc=[], bcc=[])
    database: Database = app.state.database

    async def in_sync_gap() -> bool:
        return (await read(tenant, email["id"]))["status"] == "outbox" and bool(
            await _send_started(database, email["id"])
        )

    await eventually(in_sync_gap)
    dispatcher = app.state.dispatcher
    stopped = asyncio.Event()
    other_worker = asyncio.create_task(recover_until(database, stopped))
    dispatcher.stop()
    await dispatcher.drain()
    stopped.set()
    await other_worker
    stored = await read(tenant, email["id"])
    assert stored["status"] == "sent"
    assert stored["send_attempts"] == []
    assert len(smtp.messages()) == 1


async def _send_started(database: Database, email_id: str) -> datetime | None:
    async with database.transaction() as session:
        statement = select(EmailActivity.send_started_at).where(EmailActivity.id == email_id)
        return (await session.execute(statement)).scalar_one()
