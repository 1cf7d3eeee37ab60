"""Engines and sessions: one session per request, committed at the edge, rolled back on error.

SQLite is written through a single connection (one writer, ``BEGIN IMMEDIATE``), in WAL mode;
PostgreSQL uses a small pool. Both are reached through async drivers (aiosqlite, psycopg 3).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import AsyncAdaptedQueuePool

from postroom.kit import jsoncodec, sqlite_connection
from postroom.kit.sql import CommitOutcomeUnknown, ends_the_session, is_connection_lost, retrying

T = TypeVar("T")

DUE_CHANGED = "due_changed"
"""Session flag: this transaction changed when some email is due (wake dispatchers on commit)."""
WEBHOOKS_QUEUED = "webhooks_queued"
"""Session flag: this transaction queued webhook deliveries (wake the local sender on commit)."""

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def _with_driver(database_url: str, drivers: dict[str, str]) -> URL:
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend not in drivers:
        raise ValueError(f"unsupported database {backend!r}: use sqlite:// or postgresql://")
    return url.set(drivername=drivers[backend])


def async_url(database_url: str) -> URL:
    """The async-driver form of a ``sqlite://`` or ``postgresql://`` URL."""
    return _with_driver(database_url, _ASYNC_DRIVERS)


def sync_url(database_url: str) -> URL:
    """The sync-driver form, used by Alembic and the CLI."""
    return _with_driver(database_url, _SYNC_DRIVERS)


def ensure_sqlite_directory(database_url: str) -> None:
    """Create the folder of a SQLite database file so a first start just works."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def sqlite_pragmas(synchronous: str) -> list[str]:
    return [
        "PRAGMA journal_mode=WAL",
        f"PRAGMA synchronous={synchronous}",
        "PRAGMA foreign_keys=ON",
        "PRAGMA busy_timeout=10000",
    ]


READING = "postroom_reading"
"""The execution option of ``Database.reading``'s connections on SQLite."""


def _install_sqlite_hooks(engine: AsyncEngine, synchronous: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in sqlite_pragmas(synchronous):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        """Every transaction takes the write lock first; the ``BEGIN IMMEDIATE`` goes to SQLite
        with the transaction's first statement (``kit.sqlite_connection``). A reading
        session's (``Database.reading``) runs without one."""
        if not connection.get_execution_options().get(READING):
            connection.connection.driver_connection.begin_immediate()


def _install_postgresql_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "handle_error")
    def on_error(context: ExceptionContext) -> None:
        """A FATAL error is the end of the connection, socket closed yet or not: the
        connection is dropped (not rolled back, nor pooled again) and the error is
        ``connection_invalidated``, so a request answers 503 "changed nothing" and a lost
        ``COMMIT`` is ``CommitOutcomeUnknown``. Otherwise a backend ended under a pipelined
        ``executemany`` was an unexpected error, a 500 (crash test, ``--terminate-every``)."""
        if ends_the_session(context.original_exception):
            context.is_disconnect = True


JSON_CODEC = {"json_serializer": jsoncodec.dumps_text, "json_deserializer": jsoncodec.loads}
"""JSON columns are encoded by orjson and decoded by pydantic-core (see ``kit.jsoncodec``)."""


def _one_trip_connector(url: URL) -> Callable[[], Awaitable[sqlite_connection.OneTripConnection]]:
    """SQLite connections opened with the arguments SQLAlchemy's dialect would use, wrapped so
    that a statement is one round trip to the connection's thread (``kit.sqlite_connection``)."""
    arguments, options = url.get_dialect()().create_connect_args(url)

    def open_sqlite() -> sqlite3.Connection:
        # The dialect's own arguments (the file, check_same_thread=False): typed loosely.
        return sqlite3.connect(*arguments, **options)  # type: ignore[call-overload,no-any-return]

    async def connect() -> sqlite_connection.OneTripConnection:
        return await sqlite_connection.connect(open_sqlite)

    return connect


def create_engine(database_url: str, sqlite_synchronous: str = "FULL") -> AsyncEngine:
    """An async engine for ``database_url``; SQLite gets one writer connection."""
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite":
        ensure_sqlite_directory(database_url)
        engine = create_async_engine(
            url,
            poolclass=AsyncAdaptedQueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            async_creator=_one_trip_connector(url),
            **JSON_CODEC,
        )
        _install_sqlite_hooks(engine, sqlite_synchronous)
        return engine
    engine = create_async_engine(
        url, pool_size=10, max_overflow=5, pool_pre_ping=True, **JSON_CODEC
    )
    _install_postgresql_hooks(engine)
    return engine


class Database:
    """The engine and session factory of one running Postroom."""

    def __init__(self, database_url: str, sqlite_synchronous: str = "FULL") -> None:
        self.url = database_url
        self.engine = create_engine(database_url, sqlite_synchronous)
        self.sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, info={"database": self}
        )
        self.reading_sessions = async_sessionmaker(
            _reading_engine(self.engine), expire_on_commit=False
        )
        """Sessions whose statements run in autocommit (``reading``)."""
        self.due_listeners: list[Callable[[], None]] = []
        """Called after a commit that changed when some email is due (dispatcher wake-ups)."""
        self.webhook_listeners: list[Callable[[], None]] = []
        """Called after a commit that queued webhook deliveries (webhook sender wake-ups)."""

    def notify_due_changed(self) -> None:
        for listener in list(self.due_listeners):
            listener()

    def notify_webhooks_queued(self) -> None:
        for listener in list(self.webhook_listeners):
            listener()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session committed when the block ends, rolled back if it raised. A connection
        lost under the ``COMMIT`` is ``CommitOutcomeUnknown``: the one case where whether the
        work was saved cannot be known here."""
        async with self.sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            try:
                await session.commit()
            except DBAPIError as error:
                if is_connection_lost(error):
                    raise CommitOutcomeUnknown from error
                raise

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for work that only reads (a ``GET``), its statements run in autocommit.

        PostgreSQL: no ``BEGIN`` and no ``COMMIT``, two of the five round trips of a list
        page (with the pool's ping, the key check and the page). Postroom runs at PostgreSQL's
        default isolation, READ COMMITTED, where every statement of a transaction sees its
        own snapshot anyway, so the reads see what they would have seen in one.

        SQLite: no ``BEGIN IMMEDIATE``, so a read does not take the write lock (in WAL mode
        readers need none): it neither waits for a ``postroom worker`` writing to the same
        file nor holds that worker up; and no trip to the connection's thread to commit.
        Each statement reads the last committed state.

        A statement other than ``SELECT`` is refused: it would commit on its own."""
        async with self.reading_sessions() as session:
            yield session

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work`` in its own transaction, again after a deadlock or lock timeout."""

        async def once() -> T:
            async with self.transaction() as session:
                return await work(session)

        return await retrying(once)

    async def dispose(self) -> None:
        await self.engine.dispose()


class WriteWhileReading(RuntimeError):
    """A statement other than ``SELECT`` ran on a ``Database.reading`` session (a bug)."""


def _reading_engine(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` with its connections in autocommit, refusing all but ``SELECT``. SQLite's
    connection is always in autocommit (``isolation_level = None``); its reads just do not
    ask for ``BEGIN IMMEDIATE`` (``_install_sqlite_hooks``)."""
    if engine.dialect.name == "sqlite":
        readers = engine.execution_options(**{READING: True})
    else:
        readers = engine.execution_options(isolation_level="AUTOCOMMIT")

    @event.listens_for(readers.sync_engine, "before_cursor_execute")
    def only_selects(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip()[:6].upper() != "SELECT":
            raise WriteWhileReading(f"a reading session may only SELECT: {statement[:60]!r}")

    return readers


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    database = session.info.get("database")
    if not isinstance(database, Database):
        return
    if session.info.pop(DUE_CHANGED, False):
        database.notify_due_changed()
    if session.info.pop(WEBHOOKS_QUEUED, False):
        database.notify_webhooks_queued()
