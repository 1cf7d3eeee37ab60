"""Fixtures for delivery tests: a real SMTP server, and an app whose dispatcher sends to it.

Delivery tests use a database of their own (not the foundation tests' one), emptied of emails
before each test, so one dispatcher never meets another test's queue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import delete

from postroom.app import create_app
from postroom.config import Settings
from postroom.db import Database
from postroom.models import EmailActivity
from postroom.transports import Transport
from tests.conftest import Tenant, create_tenant
from tests.databases import database_of_its_own
from tests.smtp_server import SmtpServer, smtp_server


@pytest.fixture(scope="session")
def delivery_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A second migrated database of the same engine as ``database_url``."""
    with database_of_its_own(database_url, tmp_path_factory.mktemp("delivery")) as url:
        yield url


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def delivery_settings(
    database_url: str, smtp_url: str, data_dir: Any, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "public_url": "http://testserver",
        "smtp_url": smtp_url,
        "secret_key": "test-secret",
        "run_dispatcher": True,
        "dispatch_lease_seconds": 3.0,
        "dispatch_poll_seconds": 1.0,
        "retry_first_delay_seconds": 0.3,
        "retry_max_delay_seconds": 1.0,
        "retry_give_up_after_seconds": 60.0,
    }
    values.update(overrides)
    return Settings(**values)


async def empty_queue(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.transaction() as session:
            await session.execute(delete(EmailActivity))
    finally:
        await database.dispose()


class DeliveryHarness:
    """Starts apps (with their dispatchers) against the delivery database."""

    def __init__(self, database_url: str, data_dir: Any) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self._stack: list[Any] = []

    async def start(
        self, smtp_url: str = "", transport: Transport | None = None, **overrides: Any
    ) -> tuple[FastAPI, Tenant]:
        settings = delivery_settings(self.database_url, smtp_url, self.data_dir, **overrides)
        app = create_app(settings, transport=transport)
        context = app.router.lifespan_context(app)
        await context.__aenter__()
        self._stack.append(context)
        tenant = await create_tenant(app, app.state.database)
        self._stack.append(tenant.client)
        return app, tenant

    async def close(self) -> None:
        for item in reversed(self._stack):
            if hasattr(item, "aclose"):
                await item.aclose()
            else:
                await item.__aexit__(None, None, None)


@pytest.fixture
async def harness(delivery_database_url: str, tmp_path: Any) -> AsyncIterator[DeliveryHarness]:
    await empty_queue(delivery_database_url)
    created = DeliveryHarness(delivery_database_url, tmp_path)
    yield created
    await created.close()


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 10.0, interval: float = 0.05
) -> None:
    """Wait until ``check()`` is true; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {within} s")
