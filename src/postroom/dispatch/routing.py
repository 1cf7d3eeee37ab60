"""Which transport carries each email, with one transport (and pool) per sending account."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, nullcontext

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.accounts.service import DEFAULT_ROUTE, SendingRoute, route_for
from postroom.config import Settings
from postroom.kit.secrets import SecretBox
from postroom.models import EmailActivity
from postroom.transports import Transport
from postroom.transports.smtp import SmtpTransport
from postroom.transports.urls import transport_from_url

BUILT_AHEAD_PER_CONNECTION = 1
"""Messages built and waiting for a connection, per connection of a pooled transport."""


class TransportRegistry:
    """Builds transports lazily and keeps them for reuse; tests may inject the default one.

    Each pooled transport (one that says how many ``max_connections`` it has) also gets a
    window: how many of its messages may be built and not yet handed over. The dispatcher
    builds a message only once its email is inside the window, so the first emails of a large
    claim go out at once instead of after every message of the claim was built, and a claim
    of big attachments is not all in memory at the same time.
    """

    def __init__(
        self, settings: Settings, box: SecretBox, default: Transport | None = None
    ) -> None:
        self.settings = settings
        self.box = box
        self._injected = {DEFAULT_ROUTE: default} if default is not None else {}
        self._transports: dict[str, Transport] = dict(self._injected)
        self.has_default = default is not None or bool(settings.smtp_url.get_secret_value())
        self._windows: dict[str, asyncio.Semaphore] = {}

    async def route(self, session: AsyncSession, email: EmailActivity) -> SendingRoute | None:
        return await route_for(session, self.box, email, self.has_default)

    def transport(self, route: SendingRoute) -> Transport:
        if route.key not in self._transports:
            self._transports[route.key] = self._build(route)
        return self._transports[route.key]

    def window(self, route: SendingRoute) -> AbstractAsyncContextManager[object]:
        """Held while an email of ``route`` is built and sent (FIFO: in claim order)."""
        if route.key not in self._windows:
            connections = getattr(self.transport(route), "max_connections", None)
            if not isinstance(connections, int):
                return nullcontext()
            size = connections * (1 + BUILT_AHEAD_PER_CONNECTION)
            self._windows[route.key] = asyncio.Semaphore(size)
        return self._windows[route.key]

    def _build(self, route: SendingRoute) -> Transport:
        if route.smtp is not None:
            return SmtpTransport(route.smtp)
        return transport_from_url(self.settings.smtp_url.get_secret_value(), self.settings.data_dir)

    async def close(self) -> None:
        transports, self._transports = self._transports, dict(self._injected)
        for transport in transports.values():
            await transport.close()
