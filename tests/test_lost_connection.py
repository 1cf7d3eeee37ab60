"""A request whose PostgreSQL connection is ended under it (a server restart, an operator's
``pg_terminate_backend``) changed nothing: a 503 with ``Retry-After`` in Close's format, which
the official client sends again by itself. A connection lost under the ``COMMIT`` cannot
tell whether the work was saved: ``CommitOutcomeUnknown``, a 500 that says so."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from postroom.db import Database
from postroom.kit.sql import CommitOutcomeUnknown
from postroom.models import Lead
from tests.conftest import Tenant
from tests.helpers import IN_FLIGHT, create_lead, ok

END_WAITING_BACKENDS = text(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


@pytest.fixture(autouse=True)
def _postgres_only(database: Database) -> None:
    if database.is_sqlite:
        pytest.skip("SQLite has no connection to lose: it is a file in this process")


async def test_a_request_whose_connection_is_ended_is_a_503_and_changes_nothing(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client, name="Acme")
    async with database.transaction() as session:
        await session.execute(select(Lead).where(Lead.id == lead["id"]).with_for_update())
        answer = asyncio.ensure_future(
            tenant.client.put(f"/lead/{lead['id']}/", json={"name": "Renamed"})
        )
        await asyncio.sleep(IN_FLIGHT)
        assert not answer.done()
        await session.execute(END_WAITING_BACKENDS)
        response = await answer
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    assert "changed nothing" in response.json()["error"]
    assert ok(await tenant.client.get(f"/lead/{lead['id']}/"))["name"] == "Acme"
    ok(await tenant.client.put(f"/lead/{lead['id']}/", json={"name": "Renamed"}))


async def commit_after_losing_the_connection(database: Database) -> None:
    """A transaction whose backend another connection ends just before its ``COMMIT``."""
    async with database.transaction() as session:
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with database.transaction() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


async def test_a_connection_lost_under_the_commit_is_an_unknown_outcome(
    database: Database,
) -> None:
    with pytest.raises(CommitOutcomeUnknown):
        await commit_after_losing_the_connection(database)
