"""An aiosqlite connection that crosses to its SQLite thread once per statement, not four times.

aiosqlite runs every call of the DB-API on the connection's own thread: SQLAlchemy's adapter
makes a cursor, executes, fetches and closes it, four round trips to that thread for one
``SELECT``, each about 75 µs of CPU on these machines (a thread wake-up and a future resolved
from another thread). A request that read one email spent a third of its CPU on them.

Here only what touches the database crosses: ``execute`` runs the statement and fetches all its
rows in one trip, and the rows are then read from memory. Making a cursor, reading its rows and
closing a finished cursor are done where they are asked (``sqlite3`` connections are opened
with ``check_same_thread=False`` by SQLAlchemy, and SQLAlchemy's adapter runs one statement at a
time on a connection). ``rollback`` with no transaction open does nothing, as ``sqlite3`` itself
would, without the trip: the pool asks for one every time it takes a connection back.

A transaction's ``BEGIN IMMEDIATE`` travels with its first statement (``begin_immediate``): the
same statements run in the same order on the thread, one trip fewer per transaction. A
transaction that ran no statement commits or rolls back without a trip: nothing was begun.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

import aiosqlite

T = TypeVar("T")
Row = sqlite3.Row
"""aiosqlite's name for a row, whatever the row factory (here plain tuples)."""


class OneTripCursor(aiosqlite.Cursor):
    """A cursor whose ``execute`` also fetches every row; the fetches then read memory."""

    def __init__(self, connection: OneTripConnection, cursor: sqlite3.Cursor) -> None:
        super().__init__(connection, cursor)
        self._fetched: deque[Row] = deque()

    async def _on_thread(self, function: Callable[..., T], *args: Any) -> T:
        result: T = await self._execute(function, *args)  # type: ignore[no-untyped-call]
        return result

    def _run_and_fetch(self, sql: str, parameters: Any) -> deque[Row]:
        self._connection.begin_if_asked()
        self._cursor.execute(sql, parameters)
        if self._cursor.description is None:
            return deque()
        return deque(self._cursor.fetchall())

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> OneTripCursor:
        self._fetched = await self._on_thread(self._run_and_fetch, sql, parameters or ())
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> OneTripCursor:
        self._fetched = deque()
        await self._on_thread(self._run_many, sql, parameters)
        return self

    def _run_many(self, sql: str, parameters: Iterable[Any]) -> None:
        self._connection.begin_if_asked()
        self._cursor.executemany(sql, parameters)

    @property
    def _connection(self) -> OneTripConnection:
        """The connection this cursor was made by (aiosqlite types it as its own class)."""
        return cast(OneTripConnection, self._conn)

    async def fetchone(self) -> Row | None:
        return self._fetched.popleft() if self._fetched else None

    async def fetchmany(self, size: int | None = None) -> Iterable[Row]:
        count = self._cursor.arraysize if size is None else size
        return [self._fetched.popleft() for _ in range(min(count, len(self._fetched)))]

    async def fetchall(self) -> Iterable[Row]:
        rows = list(self._fetched)
        self._fetched.clear()
        return rows

    async def close(self) -> None:
        """The statement ran to its end in ``execute``: nothing is left for SQLite to do."""
        self._fetched.clear()
        self._cursor.close()


class OneTripConnection(aiosqlite.Connection):
    """aiosqlite's connection, with cursors that cross to its thread once per statement."""

    _begin_asked = False

    def begin_immediate(self) -> None:
        """Open a write transaction (``BEGIN IMMEDIATE``) just before the next statement, on
        the thread, in that statement's trip."""
        self._begin_asked = True

    def begin_if_asked(self) -> None:
        """On the connection's thread: the ``BEGIN IMMEDIATE`` asked for, if any. A refused
        one (the database is locked) fails the statement that carried it, as it would have
        failed alone."""
        if self._begin_asked:
            self._begin_asked = False
            self._conn.execute("BEGIN IMMEDIATE")

    async def commit(self) -> None:
        if self._begin_asked:  # no statement ran: nothing was begun
            self._begin_asked = False
            return
        if self._conn.in_transaction:  # reads in autocommit have nothing to commit
            await super().commit()

    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        """A cursor at once (SQLAlchemy enters it with ``async with``, which returns it)."""
        return OneTripCursor(self, self._conn.cursor())

    async def rollback(self) -> None:
        self._begin_asked = False
        if self._conn.in_transaction:
            await super().rollback()


async def connect(connector: Callable[[], sqlite3.Connection]) -> OneTripConnection:
    """Open a connection made by ``connector`` (run on the connection's own thread)."""
    connection = OneTripConnection(connector, iter_chunk_size=64)
    await connection
    return connection
