"""SQLite statements cross to the connection's thread once each, and behave as before."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from postroom.db import Database
from postroom.kit.sqlite_connection import OneTripConnection
from tests.databases import sqlite_url


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(sqlite_url(tmp_path))
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT UNIQUE)"))
    yield database
    await database.dispose()


class Trips:
    """Counts the calls a connection sends to its thread, by the function they run."""

    def __init__(self, connection: OneTripConnection, monkeypatch: pytest.MonkeyPatch) -> None:
        self.names: list[str] = []
        send: Callable[..., Awaitable[Any]] = connection._execute

        async def counted(function: Any, *args: Any, **kwargs: Any) -> Any:
            target = function.func if isinstance(function, partial) else function
            self.names.append(getattr(target, "__name__", repr(target)))
            return await send(function, *args, **kwargs)

        monkeypatch.setattr(connection, "_execute", counted)


async def trips_of(database: Database, monkeypatch: pytest.MonkeyPatch) -> Trips:
    async with database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver_connection = raw.driver_connection
    assert isinstance(driver_connection, OneTripConnection)
    return Trips(driver_connection, monkeypatch)


async def test_a_read_is_one_trip_and_its_transaction_one_more(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with sqlite_database.transaction() as session:
        await session.execute(text("INSERT INTO notes (body) VALUES ('a'), ('b'), ('c')"))
    trips = await trips_of(sqlite_database, monkeypatch)
    async with sqlite_database.transaction() as session:
        rows = (await session.execute(text("SELECT body FROM notes ORDER BY id"))).all()
    assert [row.body for row in rows] == ["a", "b", "c"]
    # BEGIN IMMEDIATE with the SELECT and its rows, then COMMIT; no cursor, fetch, close or
    # rollback trips (the pool's rollback on check-in finds no transaction open).
    assert trips.names == ["_run_and_fetch", "commit"]


async def test_a_transaction_holds_the_write_lock_from_its_first_statement(
    sqlite_database: Database, tmp_path: Path
) -> None:
    """BEGIN IMMEDIATE still comes first: once a transaction has read, another connection
    cannot write until it ends, and then can."""
    other = sqlite3.connect(tmp_path / "postroom.db", timeout=0, isolation_level=None)
    try:
        async with sqlite_database.transaction() as session:
            await session.execute(text("SELECT count(*) FROM notes"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO notes (body) VALUES ('other')")
        other.execute("INSERT INTO notes (body) VALUES ('other')")
    finally:
        other.close()


async def test_a_transaction_that_ran_nothing_makes_no_trip_and_takes_no_lock(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    trips = await trips_of(sqlite_database, monkeypatch)
    other = sqlite3.connect(tmp_path / "postroom.db", timeout=0, isolation_level=None)
    try:
        async with sqlite_database.transaction() as session:
            await session.connection()  # begun, as far as SQLAlchemy knows
            other.execute("INSERT INTO notes (body) VALUES ('other')")
    finally:
        other.close()
    assert trips.names == []


async def test_a_locked_database_fails_the_first_statement_and_leaves_nothing_begun(
    sqlite_database: Database, tmp_path: Path
) -> None:
    """A refused BEGIN IMMEDIATE fails the statement that carried it; the next transaction
    begins afresh once the lock is free."""
    async with sqlite_database.engine.connect() as connection:
        await connection.exec_driver_sql("PRAGMA busy_timeout=0")
        await connection.commit()
    holder = sqlite3.connect(tmp_path / "postroom.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(OperationalError, match="locked"):
        async with sqlite_database.transaction() as session:
            await session.execute(text("INSERT INTO notes (body) VALUES ('refused')"))
    holder.execute("ROLLBACK")
    holder.close()
    async with sqlite_database.transaction() as session:
        await session.execute(text("INSERT INTO notes (body) VALUES ('later')"))
    async with sqlite_database.transaction() as session:
        bodies = (await session.execute(text("SELECT body FROM notes"))).scalars().all()
    assert bodies == ["later"]


async def test_rows_are_read_in_parts_as_sqlalchemy_asks(sqlite_database: Database) -> None:
    async with sqlite_database.transaction() as session:
        for number in range(5):
            await session.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": str(number)})
        result = await session.execute(text("SELECT body FROM notes ORDER BY id"))
        assert result.fetchone() == ("0",)
        assert result.fetchmany(2) == [("1",), ("2",)]
        assert result.fetchall() == [("3",), ("4",)]
        assert result.fetchone() is None


async def test_an_update_reports_its_row_count(sqlite_database: Database) -> None:
    async with sqlite_database.transaction() as session:
        await session.execute(text("INSERT INTO notes (body) VALUES ('a'), ('b')"))
        updated = await session.execute(text("UPDATE notes SET body = body || '!'"))
        assert updated.rowcount == 2  # type: ignore[attr-defined]


async def test_a_failed_statement_raises_and_its_transaction_is_rolled_back(
    sqlite_database: Database,
) -> None:
    async def insert_twice() -> None:
        async with sqlite_database.transaction() as session:
            await session.execute(text("INSERT INTO notes (body) VALUES ('kept?')"))
            await session.execute(text("INSERT INTO notes (body) VALUES ('kept?')"))

    with pytest.raises(IntegrityError):
        await insert_twice()
    async with sqlite_database.transaction() as session:
        count = (await session.execute(text("SELECT count(*) FROM notes"))).scalar_one()
    assert count == 0


async def test_a_rollback_in_a_transaction_still_discards_its_writes(
    sqlite_database: Database,
) -> None:
    async with sqlite_database.engine.connect() as connection:
        await connection.execute(text("INSERT INTO notes (body) VALUES ('gone')"))
        await connection.rollback()
        count = (await connection.execute(text("SELECT count(*) FROM notes"))).scalar_one()
        await connection.commit()
    assert count == 0
