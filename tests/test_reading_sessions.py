"""Requests that only read (``GET``s) run on ``Database.reading``: on PostgreSQL, outside any
transaction (no ``BEGIN``, no ``COMMIT``), and unable to write."""

from __future__ import annotations

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import text

from postroom.db import Database, WriteWhileReading
from tests.conftest import Tenant


def skip_unless_postgres(database: Database) -> None:
    if database.is_sqlite:
        pytest.skip("SQLite's reads share its one connection's transactions: no trips to save")


async def test_a_reading_session_on_postgresql_opens_no_transaction(
    database: Database, tenant: Tenant
) -> None:
    skip_unless_postgres(database)
    async with database.reading() as session:
        name = await session.scalar(
            text("SELECT first_name FROM users WHERE id = :id"), {"id": tenant.user_id}
        )
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        status = raw.driver_connection.info.transaction_status  # type: ignore[union-attr]
    assert name == "Jane"
    assert status is TransactionStatus.IDLE


async def test_a_reading_session_refuses_a_write_and_nothing_is_written(
    database: Database, tenant: Tenant
) -> None:
    skip_unless_postgres(database)
    rename = text("UPDATE users SET first_name = 'Mallory' WHERE id = :id")
    with pytest.raises(WriteWhileReading):
        async with database.reading() as session:
            await session.execute(rename, {"id": tenant.user_id})
    async with database.transaction() as session:
        name = await session.scalar(
            text("SELECT first_name FROM users WHERE id = :id"), {"id": tenant.user_id}
        )
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
