"""Housekeeping never holds up a send. The leases of the sends in flight are renewed on their
own schedule, whatever the purge of expired events, files and idempotency keys is doing; and
the purge removes rows in short transactions of at most a batch each, so that on SQLite it
never holds the one write lock (and the process's one writer connection) for long.

A purge of many expired events (one big ``DELETE``) used to run in the renewal loop: every
send in flight outlived its lease meanwhile, and another worker's recovery could take it for
a dead worker's (``DeliveryUnknown`` although delivered, or released to a new claim).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import ColumnElement, String, cast, exists, insert, literal, select

from postroom.db import Database
from postroom.dispatch.dispatcher import Dispatcher
from postroom.dispatch.retention import remove_expired
from postroom.dispatch.routing import TransportRegistry
from postroom.kit.datetimes import utcnow
from postroom.kit.secrets import secret_box
from postroom.models import EmailActivity, Event
from tests.dispatch.conftest import delivery_settings, empty_queue
from tests.dispatch.workers import load_emails, queue_outbox_emails
from tests.query_plans import one_statement, postgres_plan, sqlite_plan, statements_sent
from tests.smtp_server import Behaviour, SmtpServer

LEASE_SECONDS = 0.6
EXPIRED_EVENTS = 120_000
"""Enough for one ``DELETE`` of them all to take well over the lease on both engines."""
INSERTED_AT_ONCE = 20_000
RETENTION = timedelta(days=30)


def past_retention() -> datetime:
    return utcnow() - RETENTION - timedelta(days=1)


async def add_expired_events(database: Database, organization_id: str, count: int) -> None:
    """``count`` events of the organization, past their retention, each with a little data;
    made by the database itself (a recursive count), ``INSERTED_AT_ONCE`` a transaction."""
    created = literal(past_retention(), Event.created_at.type)
    for first in range(1, count + 1, INSERTED_AT_ONCE):
        last = min(first + INSERTED_AT_ONCE - 1, count)
        numbers = select(literal(first).label("n")).cte("numbers", recursive=True)
        numbers = numbers.union_all(select(numbers.c.n + 1).where(numbers.c.n < last))
        rows = select(
            literal(f"ev_old_{organization_id}_", String).concat(cast(numbers.c.n, String)),
            literal(organization_id), literal("lead"), literal("lead_old"), literal("updated"),
            literal([], Event.changed_fields.type), literal({"note": "x" * 300}, Event.data.type),
            literal({}, Event.meta.type), created, created,
        )  # fmt: skip
        columns = [
            "id", "organization_id", "object_type", "object_id", "action",
            "changed_fields", "data", "meta", "created_at", "updated_at",
        ]  # fmt: skip
        async with database.transaction() as session:
            await session.execute(insert(Event).from_select(columns, rows))


def expired_events() -> ColumnElement[bool]:
    return exists().where(Event.created_at < utcnow() - RETENTION)


async def expired_events_left(database: Database) -> bool:
    async with database.reading() as session:
        return bool((await session.execute(select(expired_events()))).scalar_one())


@dataclass
class Watched:
    """What was seen of one email while the purge ran."""

    lapses: list[str] = field(default_factory=list)
    """Each moment it was seen held under a lease that had run out."""
    started_while_purging: bool = False
    """Seen with its sync-gap marker stored (its data on the way) while expired events were
    left, in one snapshot: it did not wait for the purge to end."""


async def watch(database: Database, email_id: str, reply: threading.Event) -> Watched:
    """Read the email's claim, and whether expired events are left, every 50 ms until its
    outcome is stored; let the server answer its data once the purge is over."""
    watched = Watched()
    deadline = time.monotonic() + 30.0
    statement = select(
        EmailActivity.claimed_by, EmailActivity.lease_expires_at, EmailActivity.send_started_at,
        EmailActivity.status, expired_events().label("purging"),
    ).where(EmailActivity.id == email_id)  # fmt: skip
    while time.monotonic() < deadline:
        before = utcnow()
        async with database.reading() as session:
            row = (await session.execute(statement)).one()
        if row.claimed_by is not None and row.lease_expires_at < before:
            watched.lapses.append(
                f"{before:%T.%f}: held, its lease ran out at {row.lease_expires_at:%T.%f}"
            )
        watched.started_while_purging |= bool(row.send_started_at is not None and row.purging)
        if row.claimed_by is None and row.status == "sent":
            return watched
        if not row.purging:
            reply.set()
        await asyncio.sleep(0.05)
    raise AssertionError(f"the email was not stored sent within 30 s ({row.status}): {watched}")


async def test_a_send_goes_out_and_keeps_its_lease_while_a_long_purge_runs(
    delivery_database_url: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    """The dispatcher purges as it starts, here while it claims and sends an email whose
    server answers the data only once the purge is over. The email neither waits for the
    purge (on SQLite it did, for the one writer connection) nor outlives its lease meanwhile
    (renewal waited for the purge)."""
    await empty_queue(delivery_database_url)
    [email_id] = await queue_outbox_emails(delivery_database_url, tmp_path, 1)
    [email] = await load_emails(delivery_database_url)
    observer = Database(delivery_database_url)
    await add_expired_events(observer, email.organization_id, EXPIRED_EVENTS)
    reply = threading.Event()
    smtp.behaviour = Behaviour(hold_data=reply)
    patient = f"smtp://127.0.0.1:{smtp.port}?timeout=60"  # the reply waits for the purge
    settings = delivery_settings(
        delivery_database_url, patient, tmp_path, dispatch_lease_seconds=LEASE_SECONDS
    )
    registry = TransportRegistry(settings, secret_box("test-secret", tmp_path))
    dispatcher = Dispatcher(Database(delivery_database_url), settings, registry)
    running = asyncio.create_task(dispatcher.run())
    try:
        watched = await watch(observer, email_id, reply)
    finally:
        reply.set()
        dispatcher.stop()
        await running
        await dispatcher.database.dispose()
        await observer.dispose()
    assert watched.lapses == []
    assert watched.started_while_purging
    [stored] = await load_emails(delivery_database_url)
    assert (stored.status, stored.send_attempts) == ("sent", [])
    assert len(smtp.messages()) == 1


async def test_a_purge_removes_every_expired_event_batch_after_batch(
    delivery_database_url: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    """More expired events than a batch: all of them go in one purge, and recent ones stay."""
    await empty_queue(delivery_database_url)
    await queue_outbox_emails(delivery_database_url, tmp_path, 1)
    [email] = await load_emails(delivery_database_url)
    database = Database(delivery_database_url)
    try:
        settings = delivery_settings(delivery_database_url, smtp.url, tmp_path)
        await remove_expired(database, settings, utcnow())
        await add_expired_events(database, email.organization_id, 25)
        events, _files = await remove_expired(database, settings, utcnow(), batch=10)
        assert events == 25
        assert not await expired_events_left(database)
        async with database.reading() as session:
            recent = select(exists().where(Event.organization_id == email.organization_id))
            assert (await session.execute(recent)).scalar_one()
    finally:
        await database.dispose()


@pytest.mark.parametrize(
    ("table", "index"),
    [("events", "ix_events_created"), ("idempotency_keys", "ix_idempotency_keys_expires")],
)
async def test_each_purge_batch_reads_the_expired_rows_in_order_from_their_index(
    delivery_database_url: str, smtp: SmtpServer, tmp_path: Path, table: str, index: str
) -> None:
    """Never the whole table, which a purge every batch would read again."""
    database = Database(delivery_database_url)
    settings = delivery_settings(delivery_database_url, smtp.url, tmp_path)
    try:
        sent = await statements_sent(database, lambda: remove_expired(database, settings, utcnow()))
    finally:
        await database.dispose()
    statement = one_statement(sent, "DELETE FROM", table)
    if database.is_sqlite:
        plan = sqlite_plan(delivery_database_url, statement)
        assert not any(line.startswith(f"SCAN {table}") for line in plan), plan
        assert not any("TEMP B-TREE" in line for line in plan), plan
    else:
        plan = postgres_plan(delivery_database_url, statement)
    assert any(index in line for line in plan), plan
