"""Alembic environment: sync drivers, batch mode on SQLite, URL from the Alembic config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection

from postroom.config import Settings
from postroom.db import ensure_sqlite_directory, sqlite_pragmas, sync_url
from postroom.models import Base

config = context.config
database_url = config.get_main_option("sqlalchemy.url") or Settings().database_url


def _configure_sqlite(engine_url: str) -> None:
    ensure_sqlite_directory(engine_url)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    _configure_sqlite(database_url)
    engine = create_engine(sync_url(database_url))
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            for pragma in sqlite_pragmas("FULL"):
                cursor.execute(pragma)
            cursor.close()

    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


run_migrations_online()
