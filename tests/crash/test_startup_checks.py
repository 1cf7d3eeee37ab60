"""``postroom serve``, ``worker`` and ``db upgrade`` refuse a database they must not touch.

A SQLite file that is not a database, one whose pages are damaged, and a schema at a revision
this version does not know (written by a newer Postroom) each make the command print one
``error: ...`` line and exit 1, before anything is written: the file stays byte for byte the
same. A healthy database still starts.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from postroom import migrate
from postroom.db import sync_url
from tests.databases import fresh_postgres_database, postgres_unreachable_reason, sqlite_url
from tests.live import free_port, postroom_command, server_environment

pytestmark = pytest.mark.slow

TIMEOUT = 120.0
PAGE_SIZE = 4096
UNKNOWN_REVISION = "ffffffffffff"
DAMAGED = "is not a SQLite database or is damaged"
NEWER = "which this version of Postroom does not know"


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str


def run_postroom(database_url: str, folder: Path, *arguments: str) -> Finished:
    """Run a ``postroom`` command to completion (killed if it is still running at the timeout)."""
    completed = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        postroom_command(*arguments),
        env=server_environment(database_url, folder, 8000),
        cwd=folder,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    return Finished(completed.returncode, completed.stdout, completed.stderr)


COMMANDS = ["db upgrade", "worker", "serve"]


def command_arguments(name: str) -> tuple[str, ...]:
    if name == "serve":
        return ("serve", "--host", "127.0.0.1", "--port", str(free_port()))
    return tuple(name.split())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_refused(finished: Finished, reason: str) -> None:
    assert finished.returncode == 1, finished
    assert finished.stdout == ""
    assert finished.stderr.startswith("error: "), finished.stderr
    assert finished.stderr.count("\n") == 1, finished.stderr
    assert reason in finished.stderr
    assert "refusing" in finished.stderr


# -- broken databases --------------------------------------------------------------------------


def random_bytes_file(folder: Path) -> Path:
    path = folder / "postroom.db"
    path.write_bytes(random.Random(8).randbytes(16 * PAGE_SIZE))
    return path


def migrated_file(folder: Path, organizations: int = 0) -> Path:
    """A migrated SQLite database with ``organizations`` rows, all checkpointed into the file."""
    url = sqlite_url(folder)
    migrate.upgrade(url)
    path = folder / "postroom.db"
    rows = [(f"org_{n:06d}", f"Organization {n} {'x' * 100}") for n in range(organizations)]
    with closing(sqlite3.connect(path)) as connection:
        connection.executemany(
            "INSERT INTO organizations (id, name, created_at, updated_at)"
            " VALUES (?, ?, '2026-01-01', '2026-01-01')",
            rows,
        )
        connection.commit()
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def damaged_file(folder: Path) -> Path:
    """A valid header and schema, but garbage in the cells of the last pages of a table."""
    path = migrated_file(folder, organizations=3000)
    pages = path.stat().st_size // PAGE_SIZE
    rng = random.Random(10)
    with path.open("r+b") as file:
        for page in range(pages - 5, pages):
            file.seek(page * PAGE_SIZE + 8)
            file.write(rng.randbytes(64))
    assert migrate.quick_check_problems(path), "the damage went unnoticed by quick_check"
    return path


def newer_schema_file(folder: Path) -> Path:
    path = migrated_file(folder)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (UNKNOWN_REVISION,))
        connection.commit()
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


BROKEN = {
    "random bytes": (random_bytes_file, DAMAGED),
    "damaged pages": (damaged_file, DAMAGED),
    "newer schema": (newer_schema_file, NEWER),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_sqlite_database_is_refused_and_left_unchanged(
    kind: str, command: str, tmp_path: Path
) -> None:
    build, reason = BROKEN[kind]
    path = build(tmp_path)
    before = digest(path)
    finished = run_postroom(sqlite_url(tmp_path), tmp_path, *command_arguments(command))
    assert_refused(finished, reason)
    assert digest(path) == before


def test_a_newer_schema_on_postgresql_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    reason = postgres_unreachable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    with fresh_postgres_database() as url:
        migrate.upgrade(url)
        set_revision(url, UNKNOWN_REVISION)
        finished = run_postroom(url, tmp_path, "db", "upgrade")
        assert migrate.schema_revisions(url) == [UNKNOWN_REVISION]
    assert_refused(finished, NEWER)


def set_revision(database_url: str, revision: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        engine.dispose()


# -- healthy databases -------------------------------------------------------------------------


def test_a_healthy_migrated_database_is_accepted(tmp_path: Path) -> None:
    path = migrated_file(tmp_path, organizations=100)
    finished = run_postroom(sqlite_url(tmp_path), tmp_path, "db", "upgrade")
    assert finished.returncode == 0, finished.stderr
    assert migrate.quick_check_problems(path) == []
