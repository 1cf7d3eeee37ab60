"""Fixtures for transport tests: SmtpTransports built for a test and closed after it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from postroom.transports.smtp import SmtpSettings, SmtpTransport

Connect = Callable[..., SmtpTransport]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Builds SmtpTransports to a port of 127.0.0.1 (or ``host=``; 5 s timeout unless told)
    and closes them after."""
    built: list[SmtpTransport] = []

    def build(port: int, **settings: Any) -> SmtpTransport:
        values = {"host": "127.0.0.1", "port": port, "timeout": 5.0, **settings}
        transport = SmtpTransport(SmtpSettings(**values))
        built.append(transport)
        return transport

    yield build
    for transport in built:
        await transport.close()
