"""SMTP: a small pool of connections reused from message to message. aiosmtplib opens each
connection (implicit TLS or STARTTLS, EHLO, AUTH); its mail transactions are then pipelined by
``SmtpSession`` (see ``transports.pipelining``).

The client names itself in EHLO (RFC 5321 §4.1.4) by the ``helo_name`` of its settings, else
by the machine's fully qualified name, else, when the machine has none (``localhost``, a
container's bare host name), by the address literal of its end of the connection
(``[192.0.2.7]``): servers refuse a name that is not fully qualified
(Postfix's ``reject_non_fqdn_helo_hostname``), and spam filters score ``localhost``.

What the connection must be before anything is sent on it (STARTTLS when the settings ask for
it, a certificate that verifies, encryption for a password that leaves the machine) is
``transports.security``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
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
    PermanentRejection,
    rejection,
)
from postroom.transports.pipelining import SmtpSession
from postroom.transports.replies import ReplyReader
from postroom.transports.security import (
    require_encryption_for_password,
    require_starttls,
    untrusted_certificate,
)

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
    helo_name: str | None = None
    """The name the client gives in EHLO; default: the machine's (see the module)."""


class SmtpTransport:
    """Delivers over a bounded pool of reused SMTP connections."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._idle: list[SmtpSession] = []
        self._slots = asyncio.Semaphore(settings.max_connections)
        self._machine_name: str | None = None

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
        """Connect, greet, secure and log in with aiosmtplib, then take the connection over."""
        name = self.settings.helo_name or await self._fully_qualified_name()
        client = self._client(name)
        try:
            await self._open(client, name)
        except DeliveryError:
            client.close()
            raise
        except Exception as error:
            client.close()
            raise untrusted_certificate(error, self._server) or _connect_failure(error) from error
        transport = cast(asyncio.Transport, client.transport)
        return SmtpSession(
            ReplyReader.take_over(transport), dict(client.esmtp_extensions), self.settings.timeout
        )

    async def _open(self, client: aiosmtplib.SMTP, name: str | None) -> None:
        settings = self.settings
        await client.connect()
        client.local_hostname = name or _address_literal(client)
        await _greet(client)
        if settings.security == "starttls":
            require_starttls(client, self._server)
            await client.starttls()
            await _greet(client)  # RFC 3207: what the server said before TLS is void
        if settings.username:
            if settings.security == "none":
                require_encryption_for_password(client, self._server)
            await _log_in(client, settings.username, settings.password or "")

    @property
    def _server(self) -> str:
        """``host:port``, as failures name the server."""
        return f"{self.settings.host}:{self.settings.port}"

    async def _fully_qualified_name(self) -> str | None:
        """The machine's fully qualified name, looked up once (it may ask the DNS), or None
        when it has none."""
        if self._machine_name is None:
            self._machine_name = await asyncio.to_thread(socket.getfqdn)
        return self._machine_name if is_fully_qualified(self._machine_name) else None

    def _client(self, name: str | None) -> aiosmtplib.SMTP:
        """Connects without greeting: STARTTLS waits until the EHLO name is known."""
        settings = self.settings
        return aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            timeout=settings.timeout,
            use_tls=settings.security == "tls",
            start_tls=False,
            validate_certs=settings.validate_certs,
            local_hostname=name or "unnamed",  # replaced once connected (no look-up meanwhile)
        )


async def _log_in(client: aiosmtplib.SMTP, username: str, password: str) -> None:
    """AUTH with the account's credentials. A server that refuses them, and one that offers
    no AUTH this client can use (none at all, as many do before STARTTLS, or no known
    mechanism), are the same thing for the account: its SMTP settings cannot log in. A 4xx
    reply (RFC 4954's 454 "temporary authentication failure": the server's password store
    is down, say) refuses nothing, and is retried like any 4xx. A dropped or timed-out
    connection stays a connection failure."""
    try:
        await client.login(username, password)
    except aiosmtplib.SMTPAuthenticationError as error:
        if 400 <= error.code < 500:
            raise rejection(error.code, error.message) from error
        raise AuthenticationFailed(f"{error.code} {error.message}") from error
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPResponseException, *_TIMEOUTS):
        raise
    except aiosmtplib.SMTPException as error:
        raise AuthenticationFailed(error.message) from error


def is_fully_qualified(name: str) -> bool:
    """A dotted domain name that is not the loop-back's (``localhost.localdomain``)."""
    labels = name.lower().rstrip(".").split(".")
    return len(labels) > 1 and labels[0] != "localhost" and labels[-1] != "localdomain"


def _address_literal(client: aiosmtplib.SMTP) -> str:
    """``[192.0.2.7]`` or ``[IPv6:2001:db8::7]``: this end of the connection (RFC 5321
    §4.1.3), the name RFC 5321 §4.1.4 asks for when the machine has none."""
    transport = client.transport
    own = transport.get_extra_info("sockname") if transport is not None else None
    try:
        address = ipaddress.ip_address(own[0] if own else "")
    except ValueError:
        return "[127.0.0.1]"
    return f"[IPv6:{address.compressed}]" if address.version == 6 else f"[{address}]"


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
    if isinstance(error, aiosmtplib.SMTPConnectResponseError):  # a greeting other than 220
        return _refused_greeting(error.code, error.message)
    if isinstance(error, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError):
        return ConnectionFailed(str(error) or type(error).__name__)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return rejection(error.code, error.message)
    if isinstance(error, ssl.SSLError | OSError | aiosmtplib.SMTPException | UnicodeError):
        # UnicodeError: a host name that cannot be encoded for DNS (an empty or over-long
        # label), as unreachable as one that does not resolve
        return ConnectionFailed(f"{type(error).__name__}: {error}")
    raise error


def _refused_greeting(code: int, reply: str) -> DeliveryError:
    """RFC 5321 §3.1: a 554 greeting ("no SMTP service here") refuses this client for good;
    any other (421, busy) is a server that could not be used now."""
    text = f"{code} {reply}".strip()
    return PermanentRejection(text) if 500 <= code < 600 else ConnectionFailed(text)
