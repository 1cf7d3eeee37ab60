"""Fixtures of the fuzz tests: seeded tenants, and webhook URLs without DNS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from postroom.db import Database
from postroom.webhooks import service as webhook_service
from tests.conftest import create_tenant
from tests.fuzz.harness import Seeded, seed

PUBLIC_ADDRESS = "93.184.216.34"


async def resolve_to_a_public_address(host: str, port: int) -> list[str]:
    return [PUBLIC_ADDRESS]


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated webhook URLs name random hosts: answer for them instead of asking DNS, so
    that the fuzzer creates subscriptions and never waits on the network."""
    monkeypatch.setattr(webhook_service, "resolve", resolve_to_a_public_address)


async def seeded_tenant(app: FastAPI, database: Database) -> AsyncIterator[Seeded]:
    tenant = await create_tenant(app, database)
    yield await seed(tenant, database)
    await tenant.client.aclose()


@pytest.fixture(scope="module")
async def shared_seed(app: FastAPI, database: Database) -> AsyncIterator[Seeded]:
    """One seeded tenant for all the operations of a module that delete nothing."""
    async for seeded in seeded_tenant(app, database):
        yield seeded


@pytest.fixture
async def seeded(
    label: str, app: FastAPI, database: Database, shared_seed: Seeded
) -> AsyncIterator[Seeded]:
    """The tenant and objects the operation ``label`` aims at: its own when it deletes."""
    if not label.startswith("DELETE "):
        yield shared_seed
        return
    async for own in seeded_tenant(app, database):
        yield own
