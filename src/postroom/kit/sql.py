"""Small SQL helpers that every repository may use."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, CursorResult, Result, Select, inspect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

T = TypeVar("T")


def affected_rows(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched."""
    return int(cast(CursorResult[Any], result).rowcount)


def has_changes(loaded: object) -> bool:
    """Whether a column of the loaded ORM object was set to another value than the one it
    holds (setting an equal value is no change): a PUT that changes nothing writes nothing."""
    return any(attribute.history.has_changes() for attribute in inspect(loaded).attrs)


S = TypeVar("S", bound=Select[Any])


def for_change(statement: S, locked: bool) -> S:
    """``statement``, with ``locked``: reading its rows as they are once no other transaction
    is changing them, and keeping them from any other change until this transaction ends
    (PostgreSQL ``FOR UPDATE``; on SQLite, whose one writer holds the whole database already,
    it reads as it is). A PUT or DELETE reads what it changes this way, so that two changes of
    one row at once have one winner, and the other sees its result (a 404 once it is gone)."""
    if not locked:
        return statement
    return statement.with_for_update().execution_options(populate_existing=True)


def kept(statement: S) -> S:
    """``statement``, keeping the rows it reads from deletion until this transaction ends, for
    a row about to be written that names them (a foreign key): PostgreSQL ``FOR KEY SHARE``,
    which a deletion waits for, and which waits for a deletion under way and then reads
    nothing. Without it the write met the foreign key of a row deleted meanwhile: a 500. On
    SQLite it reads as it is (its one writer runs writing requests one at a time)."""
    return statement.with_for_update(read=True, key_share=True)


COMPARATORS: Mapping[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "gt": lambda column, value: column > value,
    "gte": lambda column, value: column >= value,
    "lt": lambda column, value: column < value,
    "lte": lambda column, value: column <= value,
}
"""Close's range suffixes (``date_created__gt`` ...) as SQL comparisons."""


def within_bounds(column: Any, bounds: Mapping[str, datetime]) -> list[ColumnElement[bool]]:
    """``column`` compared with each bound of ``{"gt": ..., "lte": ...}``."""
    return [COMPARATORS[operator](column, value) for operator, value in bounds.items()]


RETRYABLE_SQLSTATES = frozenset({"40P01", "40001", "55P03"})
"""PostgreSQL: deadlock detected, serialization failure, lock not available."""


class CommitOutcomeUnknown(Exception):
    """The connection was lost while a ``COMMIT`` was on its way: the transaction may have
    been committed or not, and nothing on this side can tell which."""


def is_connection_lost(error: BaseException) -> bool:
    """The database connection broke under a statement (the server went away, or ended the
    backend); SQLAlchemy has dropped the connection, and the server rolled its transaction
    back."""
    return isinstance(error, DBAPIError) and error.connection_invalidated


SESSION_ENDING_SEVERITIES = frozenset({"FATAL", "PANIC"})
"""PostgreSQL ends the session after an error of these severities (``pg_terminate_backend``'s
57P01, a shutdown, an idle-session timeout) and then closes the connection."""


def ends_the_session(error: BaseException) -> bool:
    """Whether ``error``, or an error it was raised from or while handling, is the server's
    last word on its connection: a FATAL (or PANIC) error. It can come before the connection's
    end does: psycopg read it under a pipeline's ``Sync`` and failed to leave pipeline mode,
    a failure its dialect takes for no disconnect, as the socket still looked open."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        severity = getattr(getattr(current, "diag", None), "severity_nonlocalized", None)
        if severity in SESSION_ENDING_SEVERITIES:
            return True
        pending += [current.__cause__, current.__context__, getattr(current, "orig", None)]
    return False


def is_unavailable(error: BaseException) -> bool:
    """The database could not be reached, lost the connection, or is too busy to answer (no
    pool connection in time, a lock or statement timeout): nothing about the work itself,
    which would fail the same way whatever it was."""
    unavailable = (OSError, CommitOutcomeUnknown, OperationalError, PoolTimeout)
    return isinstance(error, unavailable) or is_connection_lost(error)


def is_retryable(error: BaseException) -> bool:
    """A conflict the database resolved by aborting us: the same work may simply run again."""
    if not isinstance(error, DBAPIError):
        return False
    original = error.orig
    if getattr(original, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(original)


async def retrying(operation: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """Run ``operation`` (one whole transaction) again after a deadlock or a lock timeout."""
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except DBAPIError as error:
            if attempt == attempts or not is_retryable(error):
                raise
            await asyncio.sleep(0.01 * attempt)
    raise AssertionError("unreachable")
