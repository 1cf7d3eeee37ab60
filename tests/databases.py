"""Test databases: a SQLite file and a fresh PostgreSQL database, both built by the migrations."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from postroom import migrate

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    return os.environ.get("POSTROOM_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def postgres_unreachable_reason() -> str | None:
    """None when PostgreSQL answers; else why it does not."""
    try:
        with psycopg.connect(_libpq(postgres_admin_url()), connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"PostgreSQL at {postgres_admin_url()} is not reachable: {error}".strip()


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create a throw-away database next to the admin one; drop it afterwards."""
    admin = make_url(postgres_admin_url())
    name = f"postroom_test_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(str(admin.render_as_string(False))), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(admin.render_as_string(False)), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'postroom.db'}"


@contextmanager
def migrated_database(backend: str, folder: Path) -> Iterator[str]:
    """A new migrated database: a SQLite file in ``folder`` (``backend`` "sqlite"), or a fresh
    PostgreSQL database, dropped afterwards."""
    if backend == "sqlite":
        url = sqlite_url(folder)
        migrate.upgrade(url)
        yield url
        return
    with fresh_postgres_database() as url:
        migrate.upgrade(url)
        yield url


@contextmanager
def database_of_its_own(like_url: str, folder: Path) -> Iterator[str]:
    """A new migrated database of the same engine as ``like_url``, for tests that run a
    dispatcher: one started on a shared database would also send the other tests' emails."""
    backend = "sqlite" if like_url.startswith("sqlite") else "postgres"
    with migrated_database(backend, folder) as url:
        yield url
