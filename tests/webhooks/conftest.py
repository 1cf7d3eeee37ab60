"""Fixtures for webhook tests: a real HTTP receiver on loopback, and the delivery harness.

The receiver is ``http.server`` in its own thread. It records every POST (headers, raw body,
arrival time) and answers ``status`` after ``delay`` seconds (``silent_receiver``: never, in
a test's time); it can be down (nothing listens on its port, so connections are refused) and
come up later on the same port.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from postroom.db import Database
from postroom.kit.datetimes import utcnow
from postroom.models import WebhookDelivery, WebhookSubscription
from tests.dispatch.conftest import DeliveryHarness, delivery_database_url, harness, smtp
from tests.helpers import ok
from tests.smtp_server import free_port

__all__ = ["delivery_database_url", "harness", "smtp"]

LEAD_CREATED = {"object_type": "lead", "action": "created"}


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    """``time.monotonic()`` when the request arrived."""

    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


class Receiver:
    """A webhook subscriber on ``127.0.0.1:port``, down until ``up()``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.status = 200
        self.delay = 0.0
        self._received: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._received)

    def record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._received.append(request)

    def up(self) -> None:
        server = QuietServer(("127.0.0.1", self.port), _handler(self))
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout test) is expected: no traceback."""


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            receiver.record(ReceivedRequest(self.path, headers, body, time.monotonic()))
            time.sleep(receiver.delay)
            self.send_response(receiver.status)
            if 300 <= receiver.status < 400:
                self.send_header("location", f"http://127.0.0.1:{receiver.port}/elsewhere")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver that is up; ``down_receiver`` starts with nothing listening."""
    created = Receiver(free_port())
    created.up()
    yield created
    created.down()


@pytest.fixture
def silent_receiver() -> Iterator[Receiver]:
    """A receiver that accepts every request and never answers (within any test's timeout)."""
    created = Receiver(free_port())
    created.delay = 60.0
    created.up()
    yield created
    created.down()


@pytest.fixture
def down_receiver() -> Iterator[Receiver]:
    created = Receiver(free_port())
    yield created
    created.down()


async def empty_webhooks(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.transaction() as session:
            await session.execute(delete(WebhookDelivery))
            await session.execute(delete(WebhookSubscription))
    finally:
        await database.dispose()


@pytest.fixture
async def webhooks(harness: DeliveryHarness) -> AsyncIterator[DeliveryHarness]:
    """The delivery harness, with no subscription or delivery left by another test."""
    await empty_webhooks(harness.database_url)
    yield harness
    await empty_webhooks(harness.database_url)


class FakeClock:
    """The real time plus an offset that only moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    def advance_to(self, moment: datetime) -> None:
        self.offset = max(self.offset, moment - utcnow())


async def subscribe(
    client: httpx.AsyncClient, url: str, events: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    body = {"url": url, "events": events or [LEAD_CREATED]}
    response = await client.post("/webhook/", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def read_subscription(client: httpx.AsyncClient, subscription_id: str) -> dict[str, Any]:
    return ok(await client.get(f"/webhook/{subscription_id}/"))
