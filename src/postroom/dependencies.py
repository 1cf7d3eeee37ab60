"""Request-scoped dependencies: the database session and the authenticated caller.

Every dependency is ``async def``, even one that awaits nothing: FastAPI runs a plain ``def``
dependency in its thread pool, a thread hop per request for nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.config import Settings
from postroom.db import Database
from postroom.users.auth import Caller, authenticate_request


def database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: committed before the response is sent, rolled back on error."""
    async with database(request).transaction() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_caller(request: Request, session: SessionDep) -> Caller:
    return await authenticate_request(request, session)


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_read_only_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The session of a request that only reads (``Database.reading``): no transaction, and
    no write lock on SQLite."""
    async with database(request).reading() as session:
        yield session


ReadOnlySessionDep = Annotated[AsyncSession, Depends(get_read_only_session, scope="function")]


async def get_read_only_caller(request: Request, session: ReadOnlySessionDep) -> Caller:
    return await authenticate_request(request, session)


ReadOnlyCallerDep = Annotated[Caller, Depends(get_read_only_caller)]
"""The caller of a read-only route, its key checked on that route's ``ReadOnlySessionDep``."""


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
