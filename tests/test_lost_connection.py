"""A request whose PostgreSQL connection is ended under it (a server restart, an operator's
``pg_terminate_backend``) changed nothing: a 503 with ``Retry-After`` in Close's format, which
the official client sends again by itself. A connection lost under the ``COMMIT`` cannot
tell whether the work was saved: ``CommitOutcomeUnknown``, a 500 that says so."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from postroom.db import Database
from postroom.kit import driver
from postroom.kit.sql import CommitOutcomeUnknown, is_connection_lost
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


ADMIN_SHUTDOWN = b"SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0"
LAST_WORDS = b"E" + struct.pack("!i", 4 + len(ADMIN_SHUTDOWN)) + ADMIN_SHUTDOWN
"""The ErrorResponse a backend ended by ``pg_terminate_backend`` sends before it hangs up."""


class LastWordsRelay:
    """A TCP relay to PostgreSQL that, once ``armed``, answers the next ReadyForQuery with a
    terminated backend's FATAL error instead, and then relays nothing more: the last words
    arrived, the end of the connection not yet (as when a termination comes under the
    ``Sync`` of a pipeline)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.armed = False
        self.writers: list[asyncio.StreamWriter] = []

    async def relay(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        server, to_server = await asyncio.open_connection("127.0.0.1", self.port)
        self.writers += [to_client, to_server]
        answers = asyncio.ensure_future(self.answer(server, to_client))
        while data := await client.read(65536):
            to_server.write(data)
        answers.cancel()

    async def answer(self, server: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        while kind := await server.read(1):
            size = await server.readexactly(4)
            message = kind + size + await server.readexactly(struct.unpack("!i", size)[0] - 4)
            if self.armed and kind == b"Z":
                to_client.write(LAST_WORDS)
                return
            to_client.write(message)

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


@pytest.fixture
async def relayed(database: Database) -> AsyncIterator[tuple[LastWordsRelay, Database]]:
    url = make_url(database.url)
    relay = LastWordsRelay(url.port or 5432)
    server = await asyncio.start_server(relay.relay, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    plain = {"sslmode": "disable", "gssencmode": "disable"}  # no one-byte answers to relay
    relayed_url = url.set(host="127.0.0.1", port=port).update_query_dict(plain)
    relayed = Database(relayed_url.render_as_string(False))
    yield relay, relayed
    await relayed.dispose()
    relay.close()
    server.close()
    await server.wait_closed()


async def executemany_meeting_last_words(relay: LastWordsRelay, database: Database) -> None:
    """An ``executemany`` (a pipeline) whose ``Sync`` is answered by the FATAL error."""
    async with database.transaction() as session:
        await session.execute(text("SELECT 1"))
        relay.armed = True
        await driver.execute_many(session, "SELECT %s::int", [(1,), (2,)])


async def test_a_fatal_error_before_the_connection_ends_is_a_lost_connection(
    relayed: tuple[LastWordsRelay, Database],
) -> None:
    """psycopg reads it under the ``Sync`` of an ``executemany``'s pipeline and cannot leave
    pipeline mode; the dialect saw no disconnect, so a create met it as a 500."""
    with pytest.raises(DBAPIError) as raised:
        await executemany_meeting_last_words(*relayed)
    assert is_connection_lost(raised.value), raised.value
