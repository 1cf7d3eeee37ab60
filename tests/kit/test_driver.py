"""Statements on the driver read and write each column exactly as SQLAlchemy does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from postroom.db import Database
from postroom.dispatch.repository import TABLE
from postroom.kit import driver
from postroom.kit.driver import DriverColumns
from tests.conftest import Tenant
from tests.helpers import create_lead, ok


async def logged_email(tenant: Tenant) -> str:
    """An email with every kind of column filled in: datetimes, JSON lists and objects, an
    opens list, booleans, and a ``references`` column (a reserved word)."""
    lead = await create_lead(tenant.client)
    body = {
        "lead_id": lead["id"], "status": "sent", "sender": "Jane <jane@sender.example.com>",
        "to": ["Bob Büyer <bob@buyer.example.com>"], "cc": ["carol@buyer.example.com"],
        "subject": "Grüße ✓", "body_text": "Hello\r\nBob", "body_html": "<p>Hello</p>",
        "date_sent": "2026-11-26T14:03:05.123456+00:00",
        "followup_date": "2027-01-02T03:04:05+00:00",
        "envelope": {"from": [{"email": "jane@sender.example.com", "name": "Jane"}]},
        "references": ["<a.1@x.example.com>"], "message_ids": ["<m.1@x.example.com>"],
        "opens": [{"opened_at": "2026-11-27T10:00:00+00:00", "opened_by": "bob@buyer.example.com"}],
    }  # fmt: skip
    email: dict[str, Any] = ok(await tenant.client.post("/activity/email/", json=body))
    return str(email["id"])


async def read_by_sqlalchemy(database: Database, email_id: str) -> dict[str, Any]:
    async with database.transaction() as session:
        row = (await session.execute(select(TABLE).where(TABLE.c.id == email_id))).one()
    return dict(row._mapping)


async def read_by_driver(database: Database, email_id: str) -> dict[str, Any]:
    columns = DriverColumns(database.engine.dialect, list(TABLE.c))
    marker = driver.placeholder(database.engine.dialect)
    sql = f"SELECT {columns.names} FROM email_activities WHERE id = {marker}"  # noqa: S608
    async with database.transaction() as session:
        [row] = await driver.execute(session, sql, [email_id])
    return columns.values(row)


async def test_a_row_read_on_the_driver_is_the_row_sqlalchemy_reads(
    tenant: Tenant, database: Database
) -> None:
    email_id = await logged_email(tenant)
    by_driver = await read_by_driver(database, email_id)
    assert by_driver == await read_by_sqlalchemy(database, email_id)
    assert by_driver["sent_at"] == datetime(2026, 11, 26, 14, 3, 5, 123456, tzinfo=UTC)
    assert by_driver["references"] == ["<a.1@x.example.com>"]


async def test_values_written_on_the_driver_read_back_through_sqlalchemy(
    tenant: Tenant, database: Database
) -> None:
    email_id = await logged_email(tenant)
    columns = DriverColumns(
        database.engine.dialect,
        [TABLE.c[name] for name in ("due_at", "envelope", "send_attempts", "has_reply")],
    )
    written = {
        "due_at": datetime(2026, 12, 1, 9, 30, 0, 500, tzinfo=UTC) + timedelta(hours=1),
        "envelope": {"subject": "Grüße", "to": [{"email": "b@x.example.com", "name": None}]},
        "send_attempts": [{"date": "2026-12-01T09:30:00+00:00", "error_class": "X"}],
        "has_reply": True,
    }
    marker = driver.placeholder(database.engine.dialect)
    sql = f"UPDATE email_activities SET {columns.assignments} WHERE id = {marker}"  # noqa: S608
    async with database.transaction() as session:
        await driver.execute_many(session, sql, [[*columns.parameters(written), email_id]])
    stored = await read_by_sqlalchemy(database, email_id)
    assert {name: stored[name] for name in written} == written
