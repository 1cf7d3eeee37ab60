"""Hot statements run on the driver: the columns' own SQLAlchemy types convert the values, and
none of SQLAlchemy's statement machinery runs.

SQLAlchemy spends about as long again as SQLite itself on each row it reads or writes: it
builds an execution context, walks a compiled statement's parameters and processors for
every row, and wraps each result row. For the dispatcher's group commits (hundreds of rows a
transaction, thousands a second) that was most of a delivery's CPU. A statement here is SQL
written once per dialect, run with ``exec_driver_sql`` on the transaction's own connection;
its parameters and columns go through exactly the conversions SQLAlchemy would apply (each
column type's ``bind_processor`` and ``result_processor`` for the dialect), so the values
stored and read back are the same either way (a test holds the two together).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

Convert = Callable[[Any], Any]


def placeholder(dialect: Dialect) -> str:
    """The driver's positional parameter marker: ``?`` (sqlite3), ``%s`` (psycopg)."""
    return "?" if dialect.paramstyle == "qmark" else "%s"


def placeholders(dialect: Dialect, count: int) -> str:
    """``?, ?, ?`` for an ``IN (...)`` of ``count`` values."""
    return ", ".join([placeholder(dialect)] * count)


class DriverColumns:
    """Some columns of a table, converted between Python and the driver as SQLAlchemy does."""

    def __init__(self, dialect: Dialect, columns: Sequence[Column[Any]]) -> None:
        self._quoted = [dialect.identifier_preparer.quote(column.name) for column in columns]
        self._marker = placeholder(dialect)
        self.keys = tuple(column.key for column in columns)
        self.names = ", ".join(self._quoted)
        """The column list, quoted where needed (``"references"``)."""
        implementations = [column.type.dialect_impl(dialect) for column in columns]
        self._to_python = [
            (index, key, convert)
            for index, (key, implementation) in enumerate(
                zip(self.keys, implementations, strict=True)
            )
            if (convert := implementation.result_processor(dialect, None)) is not None
        ]
        self._to_driver: list[Convert | None] = [
            implementation.bind_processor(dialect) for implementation in implementations
        ]

    @property
    def assignments(self) -> str:
        """``a = ?, b = ?`` for an UPDATE of these columns."""
        return ", ".join(f"{name} = {self._marker}" for name in self._quoted)

    def parameter(self, key: str, value: Any) -> Any:
        """One value of column ``key`` for the driver."""
        convert = self._to_driver[self.keys.index(key)]
        return convert(value) if convert is not None else value

    def values(self, row: Sequence[Any]) -> dict[str, Any]:
        """A driver row of these columns (in this order) as Python values by key."""
        values = dict(zip(self.keys, row, strict=True))
        for index, key, convert in self._to_python:
            values[key] = convert(row[index])
        return values

    def parameters(self, values: Mapping[str, Any]) -> list[Any]:
        """The driver parameters for these columns' values, in this order."""
        return [
            convert(values[key]) if convert is not None else values[key]
            for key, convert in zip(self.keys, self._to_driver, strict=True)
        ]


async def execute(session: AsyncSession, sql: str, parameters: Sequence[Any]) -> list[Any]:
    """Run one statement on the session's connection; its rows as the driver gave them."""
    connection = await session.connection()
    result = await connection.exec_driver_sql(sql, tuple(parameters))
    return list(result.all()) if result.returns_rows else []


async def execute_many(session: AsyncSession, sql: str, rows: Iterable[Sequence[Any]]) -> None:
    """Run one statement once per parameter row (the driver's ``executemany``)."""
    batch = [tuple(row) for row in rows]
    if batch:
        connection = await session.connection()
        await connection.exec_driver_sql(sql, batch)
