"""``alembic check`` on a fresh SQLite database and, when reachable, on PostgreSQL."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from postroom import migrate
from tests.databases import fresh_postgres_database, postgres_unreachable_reason, sqlite_url


def check(url: str, label: str) -> None:
    migrate.upgrade(url)
    migrate.check(url)
    print(f"alembic check on {label}: no drift between models and migrations")  # noqa: T201


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        check(sqlite_url(Path(folder)), "SQLite")
    reason = postgres_unreachable_reason()
    if reason is None:
        with fresh_postgres_database() as url:
            check(url, "PostgreSQL")
    elif os.environ.get("CI") == "true":
        print(f"CI=true and {reason}", file=sys.stderr)  # noqa: T201
        return 1
    else:
        print(f"alembic check on PostgreSQL SKIPPED: {reason}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
