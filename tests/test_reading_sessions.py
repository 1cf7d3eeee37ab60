"""Requests that only read (``GET``s) run on ``Database.reading``: outside any transaction
(PostgreSQL: no ``BEGIN``, no ``COMMIT``; SQLite: no ``BEGIN IMMEDIATE``, so no write lock),
and unable to write."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import text

from postroom.db import Database, WriteWhileReading
from postroom.migrate import sqlite_file
from tests.conftest import Tenant

FIRST_NAME = text("SELECT first_name FROM users WHERE id = :id")


def in_transaction(driver_connection: Any) -> bool:
    if isinstance(driver_connection, psycopg.AsyncConnection):
        return driver_connection.info.transaction_status is not TransactionStatus.IDLE
    return bool(driver_connection.in_transaction)


async def test_a_reading_session_opens_no_transaction(database: Database, tenant: Tenant) -> None:
    async with database.reading() as session:
        name = await session.scalar(FIRST_NAME, {"id": tenant.user_id})
        raw = await (await session.connection()).get_raw_connection()
        reading_in_transaction = in_transaction(raw.driver_connection)
    async with database.transaction() as session:
        await session.scalar(FIRST_NAME, {"id": tenant.user_id})
        raw = await (await session.connection()).get_raw_connection()
        writing_in_transaction = in_transaction(raw.driver_connection)
    assert name == "Jane"
    assert not reading_in_transaction
    assert writing_in_transaction


async def test_a_reading_session_refuses_a_write_and_nothing_is_written(
    database: Database, tenant: Tenant
) -> None:
    rename = text("UPDATE users SET first_name = 'Mallory' WHERE id = :id")
    with pytest.raises(WriteWhileReading):
        async with database.reading() as session:
            await session.execute(rename, {"id": tenant.user_id})
    async with database.transaction() as session:
        name = await session.scalar(FIRST_NAME, {"id": tenant.user_id})
    assert name == "Jane"


async def test_a_read_on_sqlite_does_not_wait_for_another_process_writing(
    database: Database, tenant: Tenant
) -> None:
    path = sqlite_file(database.url)
    if path is None:
        pytest.skip("SQLite's write lock; PostgreSQL readers never wait for writers")
    with closing(sqlite3.connect(path, isolation_level=None)) as worker:
        worker.execute("BEGIN IMMEDIATE")  # a `postroom worker` in a write transaction
        try:

            async def read() -> Any:
                async with database.reading() as session:
                    return await session.scalar(FIRST_NAME, {"id": tenant.user_id})

            name = await asyncio.wait_for(read(), timeout=2)
        finally:
            worker.execute("ROLLBACK")
    assert name == "Jane"


async def test_a_get_reads_what_the_request_before_it_committed(tenant: Tenant) -> None:
    lead = (await tenant.client.post("/lead/", json={"name": "Acme"})).json()
    created = await tenant.client.post(
        "/activity/email/",
        json={"lead_id": lead["id"], "status": "draft", "subject": "First"},
    )
    updated = await tenant.client.put(
        f"/activity/email/{created.json()['id']}/", json={"subject": "Second"}
    )
    read = await tenant.client.get(f"/activity/email/{created.json()['id']}/")
    listed = await tenant.client.get("/activity/email/", params={"lead_id": lead["id"]})
    assert updated.status_code == read.status_code == listed.status_code == 200
    assert read.json() == updated.json()
    assert [email["subject"] for email in listed.json()["data"]] == ["Second"]


async def test_a_get_of_another_tenants_email_is_still_not_found(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    lead = (await tenant.client.post("/lead/", json={"name": "Acme"})).json()
    created = await tenant.client.post(
        "/activity/email/", json={"lead_id": lead["id"], "status": "draft"}
    )
    foreign = await other_tenant.client.get(f"/activity/email/{created.json()['id']}/")
    listed = await other_tenant.client.get("/activity/email/", params={"lead_id": lead["id"]})
    assert foreign.status_code == 404
    assert listed.json()["data"] == []
