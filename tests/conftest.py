"""Fixtures: every storage test runs on SQLite and on PostgreSQL, each test in its own tenant."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from postroom import migrate
from postroom.app import create_app
from postroom.config import Settings
from postroom.db import Database
from postroom.kit.ids import new_id
from postroom.users import repository as user_repository
from postroom.users import service as user_service
from tests.databases import (
    fresh_postgres_database,
    postgres_unreachable_reason,
    sqlite_url,
)

BACKENDS = ["sqlite", "postgres"]
_skipped_postgres: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say so when the PostgreSQL half did not run (also under xdist, where the workers
    skipped it: the controller checks again)."""
    reason = _skipped_postgres[0] if _skipped_postgres else postgres_unreachable_reason()
    if reason is not None:
        terminalreporter.write_line(f"PostgreSQL half SKIPPED: {reason}", yellow=True, bold=True)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("sqlite"))
        migrate.upgrade(url)
        yield url
        return
    reason = postgres_unreachable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}")
        _skipped_postgres.append(reason)
        pytest.skip(reason)
    with fresh_postgres_database() as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        public_url="http://testserver",
        run_dispatcher=False,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def database(app: FastAPI) -> Database:
    db: Database = app.state.database
    return db


@dataclass
class Tenant:
    """One organization with a user and an API key, and a client that uses the key."""

    organization_id: str
    user_id: str
    user_email: str
    api_key: str
    client: httpx.AsyncClient


async def create_tenant(
    app: FastAPI, database: Database, name: str = "Jane Sender", organization: str | None = None
) -> Tenant:
    """A user with an API key and a client, in the organization named ``organization`` (made
    when missing; default: a new one)."""
    email = f"{new_id('u').lower()}@example.com"
    async with database.transaction() as session:
        user = await user_service.create_user(session, email, name, organization or new_id("org"))
        key = await user_service.create_api_key(session, email)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver/api/v1",
        auth=(key, ""),
    )
    return Tenant(user.organization_id, user.id, user.email, key, client)


@pytest.fixture
async def tenant(app: FastAPI, database: Database) -> AsyncIterator[Tenant]:
    created = await create_tenant(app, database)
    yield created
    await created.client.aclose()


@pytest.fixture
async def other_tenant(app: FastAPI, database: Database) -> AsyncIterator[Tenant]:
    created = await create_tenant(app, database, "Mallory Other")
    yield created
    await created.client.aclose()


@pytest.fixture
async def colleague(app: FastAPI, database: Database, tenant: Tenant) -> AsyncIterator[Tenant]:
    """A second user, with a key of its own, in ``tenant``'s organization."""
    async with database.sessions() as session:
        organization = await user_repository.get_organization(session, tenant.organization_id)
    assert organization is not None
    created = await create_tenant(app, database, "Colin League", organization.name)
    yield created
    await created.client.aclose()


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver/api/v1"
    )
    yield client
    await client.aclose()
