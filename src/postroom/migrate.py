"""Run Alembic from code: ``postroom db upgrade`` and the drift check in ``make test``.

Before migrating, ``check_database`` refuses a database Postroom must not touch: a SQLite file
that is not a database or is damaged (``PRAGMA quick_check`` is not ``ok``), and a schema at a
revision these migrations do not know (written by a newer Postroom). Both raise
``UnusableDatabase``. A SQLite file is only opened read-only for these checks, so a refused
file is left byte for byte as it was. ``quick_check`` reads every page: it takes about as long
as reading the file once.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from postroom.db import sync_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class UnusableDatabase(Exception):
    """The database is damaged or newer than this version: refuse to start, change nothing."""


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option(
        "file_template", "%%(year)d-%%(month).2d-%%(day).2d-%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    return config


def upgrade(database_url: str) -> None:
    """Bring the database at ``database_url`` to the newest schema, if it is safe to touch."""
    check_database(database_url)
    command.upgrade(alembic_config(database_url), "head")


def check_database(database_url: str) -> None:
    """Raise ``UnusableDatabase`` for a damaged SQLite file or an unknown (newer) schema."""
    path = sqlite_file(database_url)
    if path is not None:
        if not path.exists() or path.stat().st_size == 0:
            return
        check_sqlite_file(path)
    check_revision(database_url)


def sqlite_file(database_url: str) -> Path | None:
    """The file of a ``sqlite://`` URL (None for PostgreSQL and in-memory databases)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def check_sqlite_file(path: Path) -> None:
    problems = quick_check_problems(path)
    if problems:
        raise UnusableDatabase(
            f"{path} is not a SQLite database or is damaged ({problems[0]}{more(problems)}); "
            "refusing to open it: restore it from a backup or move it away"
        )


def more(problems: list[str]) -> str:
    return f", and {len(problems) - 1} more problems" if len(problems) > 1 else ""


def quick_check_problems(path: Path) -> list[str]:
    """``PRAGMA quick_check`` on a read-only connection (the file is never written)."""
    try:
        with closing(read_only(path)) as connection:
            rows = connection.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as error:
        return [str(error)]
    lines = [line for row in rows for line in str(row[0]).splitlines()]
    return [line for line in lines if line != "ok" and not line.startswith("***")]


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def check_revision(database_url: str) -> None:
    """Refuse a schema whose Alembic revision none of our migrations has (a newer Postroom)."""
    script = ScriptDirectory.from_config(alembic_config(database_url))
    known = {revision.revision for revision in script.walk_revisions()}
    unknown = [revision for revision in schema_revisions(database_url) if revision not in known]
    if unknown:
        raise UnusableDatabase(
            f"the database schema is at revision {unknown[0]!r}, which this version of Postroom "
            "does not know (was it written by a newer version?); refusing to migrate or use it"
        )


def schema_revisions(database_url: str) -> list[str]:
    """The revisions in ``alembic_version`` (none for an empty database), read read-only."""
    path = sqlite_file(database_url)
    if path is None:
        engine = create_engine(sync_url(database_url))
    else:
        engine = create_engine("sqlite://", creator=lambda: read_only(path))
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return []
            rows = connection.execute(text("SELECT version_num FROM alembic_version"))
            return [str(revision) for revision in rows.scalars()]
    finally:
        engine.dispose()


def check(database_url: str) -> None:
    """Raise if the models and the migrations disagree."""
    command.check(alembic_config(database_url))


def revision(database_url: str, message: str) -> None:
    """Autogenerate a new migration (developers only)."""
    command.revision(alembic_config(database_url), message=message, autogenerate=True)
