"""What the database was asked, and how SQLite plans it: for tests that a hot statement uses
the index it was written for, with no table statistics (Postroom never runs ``ANALYZE``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from sqlalchemy import event

from postroom.db import Database
from postroom.dispatch.wakeups import libpq_url

Sent = tuple[str, Any]


async def statements_sent(database: Database, action: Callable[[], Awaitable[Any]]) -> list[Sent]:
    """Every statement (with its parameters) ``action`` sent through ``database``'s engine."""
    sent: list[Sent] = []

    def remember(_conn: Any, _cursor: Any, sql: str, params: Any, *_args: Any) -> None:
        sent.append((sql, params))

    event.listen(database.engine.sync_engine, "before_cursor_execute", remember)
    try:
        await action()
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", remember)
    return sent


def one_statement(sent: list[Sent], *fragments: str) -> Sent:
    """The one statement that contains every fragment."""
    (found,) = [item for item in sent if all(fragment in item[0] for fragment in fragments)]
    return found


def sqlite_plan(database_url: str, statement: Sent) -> list[str]:
    """The details of ``EXPLAIN QUERY PLAN``, from a connection of its own (of an
    executemany, with its first row: every row runs the same plan)."""
    sql, params = statement
    if isinstance(params, list):
        params = params[0]
    with sqlite3.connect(database_url.split("///", 1)[1]) as connection:
        return [row[-1] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


def postgres_plan(database_url: str, statement: Sent) -> list[str]:
    """The lines of ``EXPLAIN`` with sequential scans ruled out, from a connection of its own:
    on a test-sized table PostgreSQL rightly prefers reading it whole, so this shows whether
    an index can answer the statement as sent, not which one a large table would get."""
    sql, params = statement
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        connection.execute("SET enable_seqscan = off")
        return [str(row[0]) for row in connection.execute(f"EXPLAIN {sql}", params)]
