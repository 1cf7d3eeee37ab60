"""An outcome that cannot be stored holds back no other. Outcomes are written in group
commits; when a group's write fails, its outcomes are written again one by one, so that only
the email whose outcome cannot be stored is left to recovery (and logged).

The cause here is a real one: a server that refuses the credentials in Latin-1 ("für"). SMTP
replies are decoded as UTF-8 with ``surrogateescape``, so the failure's text holds a lone
surrogate, which neither engine can store in the account's ``latest_send_error`` (nor
PostgreSQL's ``jsonb`` in ``send_attempts``). The whole group used to fail with it, at every
try, and every email in it ended in ``error`` as ``DeliveryUnknown`` once its lease ran out,
although its server had accepted it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from postroom.accounts.service import SendingRoute
from postroom.config import Settings
from postroom.db import Database
from postroom.dispatch.dispatcher import Dispatcher
from postroom.dispatch.routing import TransportRegistry
from postroom.kit.secrets import secret_box
from postroom.models import EmailActivity
from postroom.transports import BeforeData, DeliveryReceipt, OutgoingMessage, Transport
from tests.conftest import create_tenant
from tests.dispatch.conftest import DeliveryHarness, delivery_settings, eventually
from tests.dispatch.test_failures import send
from tests.helpers import add_sending_account
from tests.smtp_server import SmtpServer

LATIN1_REFUSAL = "535 5.7.8 Anmeldung f\xfcr mallory fehlgeschlagen\r\n".encode("latin-1")
NOT_STORED = "was not stored; its lease will expire"


async def refuse_credentials_in_latin1(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """An SMTP server that offers AUTH and refuses every login, in Latin-1."""
    writer.write(b"220 mail.example.de ESMTP\r\n")
    while line := await reader.readline():
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            writer.write(b"250-mail.example.de\r\n250 AUTH PLAIN LOGIN\r\n")
        elif verb == b"AUTH":
            writer.write(LATIN1_REFUSAL)
        else:
            writer.write(b"221 bye\r\n" if verb == b"QUIT" else b"502 5.5.1 no\r\n")
        await writer.drain()
    writer.close()


@asynccontextmanager
async def latin1_server() -> AsyncIterator[str]:
    """The server above on loopback; yields the SMTP URL of an account on it."""
    server = await asyncio.start_server(refuse_credentials_in_latin1, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"smtp://mallory:wrong@127.0.0.1:{port}?timeout=5"
    finally:
        server.close()
        await server.wait_closed()


@dataclass
class AnsweredTogether:
    """Holds every delivery's answer (receipt or failure) until ``expected`` deliveries have
    been answered, then gives them all at once: their outcomes reach the dispatcher in the
    same moment and go to the database in one group commit."""

    expected: int
    answered: int = 0
    everyone: asyncio.Event = field(default_factory=asyncio.Event)

    async def answer(self, delivery: Awaitable[DeliveryReceipt]) -> DeliveryReceipt:
        try:
            return await delivery
        finally:
            self.answered += 1
            if self.answered >= self.expected:
                self.everyone.set()
            await self.everyone.wait()


@dataclass
class HeldTransport:
    inner: Transport
    together: AnsweredTogether

    async def deliver(self, message: OutgoingMessage, before_data: BeforeData) -> DeliveryReceipt:
        return await self.together.answer(self.inner.deliver(message, before_data))

    async def close(self) -> None:
        await self.inner.close()


class AnsweringTogether(TransportRegistry):
    """Every route's transport (the default URL's and each account's) held by ``together``."""

    def __init__(self, settings: Settings, together: AnsweredTogether) -> None:
        super().__init__(settings, secret_box("test-secret", settings.data_dir))
        self.together = together
        self._held: dict[str, Transport] = {}

    def transport(self, route: SendingRoute) -> Transport:
        if route.key not in self._held:
            self._held[route.key] = HeldTransport(super().transport(route), self.together)
        return self._held[route.key]


def finished(database: Database, email_ids: list[str]) -> Callable[[], Awaitable[bool]]:
    """No worker holds any of the emails any more, and none is waiting."""

    async def check() -> bool:
        rows = await stored(database, email_ids)
        return all(row.claimed_by is None and row.status != "outbox" for row in rows)

    return check


async def stored(database: Database, email_ids: list[str]) -> list[EmailActivity]:
    async with database.transaction() as session:
        statement = select(EmailActivity).where(EmailActivity.id.in_(email_ids))
        return list((await session.execute(statement)).scalars().all())


def not_stored(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The log's errors about an outcome given up: their messages."""
    return [record.getMessage() for record in caplog.records if NOT_STORED in record.getMessage()]


async def test_an_outcome_that_cannot_be_stored_does_not_hold_back_the_others(
    harness: DeliveryHarness, smtp: SmtpServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with latin1_server() as account_url:
        app, jane = await harness.start(smtp.url, run_dispatcher=False)
        database = app.state.database
        mallory = await create_tenant(app, database, "Mallory Latin")
        await add_sending_account(database, mallory.user_email, account_url)
        delivered = [(await send(jane))["id"] for _ in range(3)]
        refused = (await send(mallory))["id"]
        await mallory.client.aclose()
        settings = delivery_settings(harness.database_url, smtp.url, tmp_path)
        registry = AnsweringTogether(settings, AnsweredTogether(expected=4))
        dispatcher = Dispatcher(database, settings, registry)
        running = asyncio.create_task(dispatcher.run())
        try:
            await eventually(finished(database, delivered), within=15.0)

            async def given_up() -> bool:
                return bool(not_stored(caplog))

            await eventually(given_up, within=15.0)
        finally:
            dispatcher.stop()
            await running
    emails = await stored(database, delivered)
    assert [(email.status, email.send_attempts) for email in emails] == [("sent", [])] * 3
    assert len(smtp.messages()) == 3
    [left] = await stored(database, [refused])
    assert left.status == "outbox"
    assert left.send_attempts == []
    assert [refused in message for message in not_stored(caplog)] == [True]
