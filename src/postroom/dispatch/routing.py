"""Which transport carries each email, with one transport (and pool) per sending account."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.accounts.service import DEFAULT_ROUTE, SendingRoute, route_for
from postroom.config import Settings
from postroom.dispatch.lanes import UNPOOLED_LANES
from postroom.emails.rendering import EmailRecord
from postroom.kit.secrets import SecretBox
from postroom.transports import Transport
from postroom.transports.smtp import SmtpTransport
from postroom.transports.urls import transport_from_url


class TransportRegistry:
    """Builds transports lazily and keeps them for reuse; tests may inject the default one."""

    def __init__(
        self, settings: Settings, box: SecretBox, default: Transport | None = None
    ) -> None:
        self.settings = settings
        self.box = box
        self._injected = {DEFAULT_ROUTE: default} if default is not None else {}
        self._transports: dict[str, Transport] = dict(self._injected)
        self.has_default = default is not None or bool(settings.smtp_url.get_secret_value())

    async def route(self, session: AsyncSession, email: EmailRecord) -> SendingRoute | None:
        return await route_for(session, self.box, email, self.has_default)

    def transport(self, route: SendingRoute) -> Transport:
        if route.key not in self._transports:
            self._transports[route.key] = self._build(route)
        return self._transports[route.key]

    def width(self, route: SendingRoute) -> int:
        """How many emails of ``route`` are delivered at once: a pooled transport's
        connections (``max_connections``), else ``UNPOOLED_LANES``."""
        connections = getattr(self.transport(route), "max_connections", None)
        return connections if isinstance(connections, int) else UNPOOLED_LANES

    def _build(self, route: SendingRoute) -> Transport:
        if route.smtp is not None:
            return SmtpTransport(route.smtp)
        return transport_from_url(self.settings.smtp_url.get_secret_value(), self.settings.data_dir)

    async def close(self) -> None:
        transports, self._transports = self._transports, dict(self._injected)
        for transport in transports.values():
            await transport.close()
