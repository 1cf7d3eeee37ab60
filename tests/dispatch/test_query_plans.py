"""The dispatcher's per-group statements find their emails by primary key.

A worker holds thousands of claims at once. The sync-gap marker and the lease renewal name a
few of them by id and check that the worker still holds them; on SQLite that check once made
the planner search the lease index by worker instead, and read every row the worker held for
each group of markers, so the cost of a delivery grew with the size of the claim.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.db import Database
from postroom.dispatch import repository as repo
from postroom.kit.datetimes import utcnow
from tests.dispatch.workers import queue_outbox_emails

WORKER = "worker-1"
PRIMARY_KEY_SEARCH = "USING INDEX sqlite_autoindex_email_activities_1 (id=?)"

Statement = Callable[[AsyncSession, list[str]], Awaitable[Any]]


async def mark(session: AsyncSession, email_ids: list[str]) -> Any:
    return await repo.mark_send_started(session, WORKER, email_ids, utcnow())


async def renew(session: AsyncSession, email_ids: list[str]) -> Any:
    return await repo.renew_leases(session, WORKER, email_ids, utcnow() + timedelta(minutes=5))


async def captured_sql(
    database: Database, statement: Statement, email_ids: list[str]
) -> tuple[str, Any]:
    """The SQL (and its parameters) that ``statement`` sent to the database."""
    sent: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, sql: str, params: Any, *_args: Any) -> None:
        sent.append((sql, params))

    event.listen(database.engine.sync_engine, "before_cursor_execute", remember)
    try:
        await database.run(lambda session: statement(session, email_ids))
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", remember)
    (update,) = [item for item in sent if item[0].lstrip().upper().startswith("UPDATE")]
    return update


@pytest.mark.parametrize("statement", [mark, renew], ids=["sync-gap marker", "lease renewal"])
async def test_a_group_statement_finds_the_named_emails_by_primary_key(
    database_url: str, tmp_path: Path, statement: Statement
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's planner chooses by the table's statistics; SQLite's by rule")
    email_ids = await queue_outbox_emails(database_url, tmp_path, 40)
    database = Database(database_url)
    try:
        now = utcnow()
        await database.run(
            lambda session: repo.claim_due(session, WORKER, now, now + timedelta(minutes=5), 40)
        )
        sql, params = await captured_sql(database, statement, email_ids[:8])
    finally:
        await database.dispose()
    path = database_url.split("///", 1)[1]
    with sqlite3.connect(path) as connection:
        plan = connection.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    details = [row[-1] for row in plan]
    assert any(PRIMARY_KEY_SEARCH in detail for detail in details), details
    assert not any("ix_email_activities_lease" in detail for detail in details), details
