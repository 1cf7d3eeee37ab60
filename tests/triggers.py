"""A database that refuses one kind of write, as a stand-in for whatever a real one may refuse
(a bug, a constraint, a value it cannot store): a trigger, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from postroom.db import Database

NAME = "refuse_for_test"


@asynccontextmanager
async def refusing(
    database: Database, operation: str, table: str, when: str
) -> AsyncIterator[None]:
    """While the block runs, each ``operation`` (``INSERT``, ``UPDATE``) on ``table`` of a row
    meeting ``when`` (SQL on ``NEW``) fails with an error the database raises."""
    if database.is_sqlite:
        create = [
            f"CREATE TRIGGER {NAME} BEFORE {operation} ON {table} WHEN {when}"
            f" BEGIN SELECT RAISE(ABORT, 'refused by {NAME}'); END"
        ]
        drop = [f"DROP TRIGGER {NAME}"]
    else:
        create = [
            f"CREATE FUNCTION {NAME}() RETURNS trigger LANGUAGE plpgsql"
            f" AS $$ BEGIN RAISE EXCEPTION 'refused by {NAME}'; END $$",
            f"CREATE TRIGGER {NAME} BEFORE {operation} ON {table} FOR EACH ROW"
            f" WHEN ({when}) EXECUTE FUNCTION {NAME}()",
        ]
        drop = [f"DROP TRIGGER {NAME} ON {table}", f"DROP FUNCTION {NAME}()"]
    await _run(database, create)
    try:
        yield
    finally:
        await _run(database, drop)


async def _run(database: Database, statements: list[str]) -> None:
    async with database.transaction() as session:
        for statement in statements:
            await session.execute(text(statement))
