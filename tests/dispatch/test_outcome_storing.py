"""An outcome that cannot be stored holds back no other. Outcomes are written in group
commits; when a group's write fails, its outcomes are written again one by one, so that only
the email whose outcome cannot be stored is left to recovery (and logged).

The group used to fail whole, at every try, and every email in it ended in ``error`` as
``DeliveryUnknown`` once its lease ran out, although its server had accepted it. The real
cause found was a server refusing the credentials in Latin-1 ("für"): its reply, decoded as
UTF-8 with ``surrogateescape``, held a lone surrogate that neither engine could store. Such
text is now stored readable (``kit.text.storable_text``; tested below); the refusal of one
outcome is made here by a trigger, standing for whatever else the database may refuse.
"""

from __future__ import annotations

import asyncio
import logging
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
from tests.helpers import add_sending_account, ok
from tests.smtp_server import SmtpServer
from tests.triggers import refusing

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
        yield f"smtp://mallory:wrong@127.0.0.1:{port}"
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
    app, jane = await harness.start(smtp.url, run_dispatcher=False)
    database: Database = app.state.database
    delivered = [(await send(jane))["id"] for _ in range(3)]
    refused = (await send(jane))["id"]
    settings = delivery_settings(harness.database_url, smtp.url, tmp_path)
    registry = AnsweringTogether(settings, AnsweredTogether(expected=4))
    dispatcher = Dispatcher(database, settings, registry)
    its_sent_outcome = f"NEW.id = '{refused}' AND NEW.status = 'sent'"
    async with refusing(database, "UPDATE", "email_activities", its_sent_outcome):
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
    assert len(smtp.messages()) == 4
    [left] = await stored(database, [refused])
    assert left.status == "outbox"
    assert left.send_attempts == []
    assert [refused in message for message in not_stored(caplog)] == [True]


async def test_a_refusal_in_latin1_is_stored_readable(
    harness: DeliveryHarness, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The server's words reach ``send_attempts``, the account's ``latest_send_error`` and the
    log as it meant them; before, the lone surrogate made the outcome unstorable (PostgreSQL),
    or stored a row nobody could read back, which stopped every later claim (SQLite)."""
    caplog.set_level(logging.INFO, logger="postroom.dispatch")
    async with latin1_server() as account_url:
        app, jane = await harness.start(smtp.url)
        database = app.state.database
        mallory = await create_tenant(app, database, "Mallory Latin")
        await add_sending_account(database, mallory.user_email, account_url)
        refused = await send(mallory)
        url = f"/activity/email/{refused['id']}/"

        async def in_error() -> bool:
            return bool(ok(await mallory.client.get(url))["status"] == "error")

        await eventually(in_error, within=10.0)
        email = ok(await mallory.client.get(url))
        [attempt] = email["send_attempts"]
        assert attempt["error_class"] == "AuthenticationFailed"
        assert "Anmeldung für mallory fehlgeschlagen" in attempt["error_message"]
        assert email["need_smtp_credentials"] is True
        [account] = ok(await mallory.client.get("/connected_account/"))["data"]
        assert "Anmeldung für mallory" in account["latest_send_error"]
        [logged] = [r.getMessage() for r in caplog.records if "delivery of" in r.getMessage()]
        assert logged.endswith("Anmeldung für mallory fehlgeschlagen")
        later = await send(jane)  # the queue goes on
        await eventually(lambda: _received(smtp, 1), within=10.0)
        assert smtp.messages()[0].message["Subject"] == later["subject"]
        await mallory.client.aclose()


async def _received(smtp: SmtpServer, count: int) -> bool:
    return len(smtp.messages()) >= count
