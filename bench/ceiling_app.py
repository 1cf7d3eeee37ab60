"""The ceiling of the API benchmark (bench/api.py): a bare FastAPI app, served exactly as
``postroom serve`` serves Postroom (``uvicorn.run(app, host=..., port=..., log_level=...)``,
uvicorn's defaults otherwise: uvloop, httptools, one process).

- ``POST /ceiling/`` validates a small Pydantic body and returns a fixed JSON object.
- ``POST /ceiling/insert/`` does the same plus one committed ``INSERT``: into a SQLite file
  (one connection, WAL, ``synchronous=FULL`` like Postroom's default) or into a PostgreSQL
  database (10 autocommit connections, like Postroom's pool size).

    python bench/ceiling_app.py --port 8001 --sqlite /tmp/ceiling.db
    python bench/ceiling_app.py --port 8001 --postgres "postgresql://postgres@127.0.0.1/db"
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import aiosqlite
import psycopg
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

ANSWER = {"id": "note_ceiling", "status": "accepted"}
CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS ceiling_notes "
    "(id INTEGER PRIMARY KEY {auto}, lead_id TEXT NOT NULL, subject TEXT NOT NULL, "
    "recipients TEXT NOT NULL)"
)
POSTGRES_CONNECTIONS = 10


class Note(BaseModel):
    """The small body both endpoints validate."""

    lead_id: str = Field(max_length=64)
    subject: str = Field(max_length=1000)
    to: list[str] = Field(max_length=500)


class Inserter(Protocol):
    async def insert(self, note: Note) -> None: ...

    async def close(self) -> None: ...


class SqliteInserter:
    """One connection in autocommit mode: each INSERT is its own transaction and fsync."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self.connection = connection

    @classmethod
    async def open(cls, path: str) -> SqliteInserter:
        connection = await aiosqlite.connect(path, isolation_level=None)
        for statement in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=FULL",
            CREATE_TABLE.format(auto="AUTOINCREMENT"),
        ):
            await connection.execute(statement)
        return cls(connection)

    async def insert(self, note: Note) -> None:
        await self.connection.execute(
            "INSERT INTO ceiling_notes (lead_id, subject, recipients) VALUES (?, ?, ?)",
            (note.lead_id, note.subject, ",".join(note.to)),
        )

    async def close(self) -> None:
        await self.connection.close()


class PostgresInserter:
    """A fixed set of autocommit connections handed out through a queue."""

    def __init__(self, idle: asyncio.Queue[psycopg.AsyncConnection]) -> None:
        self.idle = idle

    @classmethod
    async def open(cls, conninfo: str) -> PostgresInserter:
        idle: asyncio.Queue[psycopg.AsyncConnection] = asyncio.Queue()
        for _ in range(POSTGRES_CONNECTIONS):
            idle.put_nowait(await psycopg.AsyncConnection.connect(conninfo, autocommit=True))
        connection = idle.get_nowait()
        await connection.execute(CREATE_TABLE.format(auto="GENERATED ALWAYS AS IDENTITY"))
        idle.put_nowait(connection)
        return cls(idle)

    async def insert(self, note: Note) -> None:
        connection = await self.idle.get()
        try:
            await connection.execute(
                "INSERT INTO ceiling_notes (lead_id, subject, recipients) VALUES (%s, %s, %s)",
                (note.lead_id, note.subject, ",".join(note.to)),
            )
        finally:
            self.idle.put_nowait(connection)

    async def close(self) -> None:
        while not self.idle.empty():
            await self.idle.get_nowait().close()


def create_app(sqlite_path: str | None, postgres_conninfo: str | None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        inserter: Inserter = (
            await PostgresInserter.open(postgres_conninfo)
            if postgres_conninfo
            else await SqliteInserter.open(sqlite_path or ":memory:")
        )
        app.state.inserter = inserter
        try:
            yield
        finally:
            await inserter.close()

    app = FastAPI(lifespan=lifespan, redirect_slashes=False)

    @app.post("/ceiling/")
    async def accept(note: Note) -> JSONResponse:
        return JSONResponse(ANSWER)

    @app.post("/ceiling/insert/")
    async def accept_and_insert(note: Note) -> JSONResponse:
        await app.state.inserter.insert(note)
        return JSONResponse(ANSWER)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--log-level", default="warning", help="as POSTROOM_LOG_LEVEL")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--sqlite", help="SQLite file for /ceiling/insert/")
    target.add_argument("--postgres", help="libpq URL of a database for /ceiling/insert/")
    arguments = parser.parse_args()
    app = create_app(arguments.sqlite, arguments.postgres)
    uvicorn.run(app, host=arguments.host, port=arguments.port, log_level=arguments.log_level)


if __name__ == "__main__":
    main()
