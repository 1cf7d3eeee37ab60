"""SMTP: a small pool of connections reused from message to message. aiosmtplib opens each
connection (implicit TLS or STARTTLS, EHLO, AUTH); its mail transactions are then pipelined by
``SmtpSession`` (see ``transports.pipelining``)."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import cast

import aiosmtplib

from postroom.transports.base import (
    AuthenticationFailed,
    BeforeData,
    ConnectionFailed,
    DeliveryError,
    DeliveryReceipt,
    DeliveryTimeout,
    OutgoingMessage,
    rejection,
)
from postroom.transports.pipelining import ReplyReader, SmtpSession

_TIMEOUTS = (aiosmtplib.SMTPTimeoutError, TimeoutError)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    security: str = "none"
    """``none``, ``starttls`` (upgrade after connecting) or ``tls`` (implicit TLS)."""
    timeout: float = 30.0
    max_connections: int = 4
    validate_certs: bool = True


class SmtpTransport:
    """Delivers over a bounded pool of reused SMTP connections."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._idle: list[SmtpSession] = []
        self._slots = asyncio.Semaphore(settings.max_connections)

    @property
    def max_connections(self) -> int:
        """How many messages this transport has on the wire at once."""
        return self.settings.max_connections

    async def deliver(self, message: OutgoingMessage, before_data: BeforeData) -> DeliveryReceipt:
        """On an idle connection if one is open, else a new one. A server may hang up on an
        idle connection just as it is reused (its idle timeout): ``ConnectionFailed`` means the
        end of the message data never left, so the message is sent again at once on a new
        connection."""
        async with self._slots:
            session = self._idle_session()
            if session is not None:
                try:
                    return await self._send_on(session, message, before_data)
                except ConnectionFailed:
                    pass
            return await self._send_on(await self._connect(), message, before_data)

    async def _send_on(
        self, session: SmtpSession, message: OutgoingMessage, before_data: BeforeData
    ) -> DeliveryReceipt:
        try:
            receipt = await session.send(message, before_data)
        except BaseException:
            session.close()
            raise
        self._idle.append(session)
        return receipt

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for session in idle:
            await session.quit()

    def _idle_session(self) -> SmtpSession | None:
        while self._idle:
            session = self._idle.pop()
            if session.is_reusable:
                return session
            session.close()
        return None

    async def _connect(self) -> SmtpSession:
        """Connect, greet and log in with aiosmtplib, then take the connection over."""
        client = self._client()
        try:
            await client.connect()
            if client.is_ehlo_or_helo_needed:
                await _greet(client)
            if self.settings.username:
                await _log_in(client, self.settings.username, self.settings.password or "")
        except AuthenticationFailed:
            client.close()
            raise
        except Exception as error:
            client.close()
            raise _connect_failure(error) from error
        transport = cast(asyncio.Transport, client.transport)
        return SmtpSession(
            ReplyReader.take_over(transport), dict(client.esmtp_extensions), self.settings.timeout
        )

    def _client(self) -> aiosmtplib.SMTP:
        settings = self.settings
        return aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            timeout=settings.timeout,
            use_tls=settings.security == "tls",
            start_tls=settings.security == "starttls",
            validate_certs=settings.validate_certs,
        )


async def _log_in(client: aiosmtplib.SMTP, username: str, password: str) -> None:
    """AUTH with the account's credentials. A server that refuses them, and one that offers
    no AUTH this client can use (none at all, as many do before STARTTLS, or no known
    mechanism), are the same thing for the account: its SMTP settings cannot log in. A
    dropped or timed-out connection stays a connection failure."""
    try:
        await client.login(username, password)
    except aiosmtplib.SMTPAuthenticationError as error:
        raise AuthenticationFailed(f"{error.code} {error.message}") from error
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPResponseException, *_TIMEOUTS):
        raise
    except aiosmtplib.SMTPException as error:
        raise AuthenticationFailed(error.message) from error


async def _greet(client: aiosmtplib.SMTP) -> None:
    """EHLO (for the server's extensions), HELO when the server does not know EHLO."""
    try:
        await client.ehlo()
    except aiosmtplib.SMTPHeloError:
        if not client.is_connected:
            raise
        await client.helo()


def _connect_failure(error: Exception) -> DeliveryError:
    """Classify a failure while connecting: nothing was sent, so never a sync gap."""
    if isinstance(error, _TIMEOUTS):  # first: a connect timeout is also an SMTPConnectError
        return DeliveryTimeout(str(error) or "timed out")
    if isinstance(error, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError):
        return ConnectionFailed(str(error) or type(error).__name__)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return rejection(error.code, error.message)
    if isinstance(error, ssl.SSLError | OSError | aiosmtplib.SMTPException | UnicodeError):
        # UnicodeError: a host name that cannot be encoded for DNS (an empty or over-long
        # label), as unreachable as one that does not resolve
        return ConnectionFailed(f"{type(error).__name__}: {error}")
    raise error
