"""SMTP over aiosmtplib: STARTTLS or implicit TLS, AUTH, timeouts, and a small pool of
connections reused from message to message."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

import aiosmtplib

from postroom.transports.base import (
    AuthenticationFailed,
    BeforeData,
    ConnectionFailed,
    DeliveryError,
    DeliveryReceipt,
    DeliveryTimeout,
    DeliveryUnknown,
    OutgoingMessage,
    PermanentRejection,
    rejection,
)

_BROKEN = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, ssl.SSLError, OSError)
_TIMEOUTS = (aiosmtplib.SMTPTimeoutError, TimeoutError)
CLOSING = 421
"""The server's reply when it is about to close the connection, to any command."""
NEEDS_SMTPUTF8 = "553 5.6.7 non-ASCII address, and the server does not offer SMTPUTF8"


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
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(settings.max_connections)

    @property
    def max_connections(self) -> int:
        """How many messages this transport has on the wire at once."""
        return self.settings.max_connections

    async def deliver(self, message: OutgoingMessage, before_data: BeforeData) -> DeliveryReceipt:
        async with self._slots:
            client = await self._checkout()
            try:
                receipt = await self._transaction(client, message, before_data)
            except BaseException:
                await _discard(client)
                raise
            self._idle.append(client)
            return receipt

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            await _discard(client, polite=True)

    async def _checkout(self) -> aiosmtplib.SMTP:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
        return await self._connect()

    async def _connect(self) -> aiosmtplib.SMTP:
        settings = self.settings
        client = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            timeout=settings.timeout,
            use_tls=settings.security == "tls",
            start_tls=settings.security == "starttls",
            validate_certs=settings.validate_certs,
        )
        try:
            await client.connect()
            if settings.username:
                await client.login(settings.username, settings.password or "")
        except aiosmtplib.SMTPAuthenticationError as error:
            await _discard(client)
            raise AuthenticationFailed(f"{error.code} {error.message}") from error
        except Exception as error:
            await _discard(client)
            raise _before_data_failure(error) from error
        return client

    async def _transaction(
        self, client: aiosmtplib.SMTP, message: OutgoingMessage, before_data: BeforeData
    ) -> DeliveryReceipt:
        try:
            encoding = await _address_encoding(client, message)
            options = ["SMTPUTF8"] if encoding == "utf-8" else []
            await client.mail(message.envelope_from, options=options, encoding=encoding)
            accepted, refused = await _recipients(client, message.recipients, encoding)
        except Exception as error:
            raise _before_data_failure(error) from error
        if not accepted:
            await _reset(client)
            raise _all_refused(refused)
        await before_data()
        reply = await _send_data(client, message.data)
        return DeliveryReceipt(accepted=tuple(accepted), refused=refused, reply=reply)


async def _address_encoding(client: aiosmtplib.SMTP, message: OutgoingMessage) -> str:
    """``utf-8`` (with SMTPUTF8) when an envelope address needs it and the server offers it."""
    if all(address.isascii() for address in (message.envelope_from, *message.recipients)):
        return "ascii"
    if client.is_ehlo_or_helo_needed:
        await client.ehlo()
    return "utf-8" if client.supports_extension("smtputf8") else "ascii"


async def _recipients(
    client: aiosmtplib.SMTP, recipients: tuple[str, ...], encoding: str
) -> tuple[list[str], dict[str, str]]:
    """Refusals of single recipients are collected; a 421 (the server hangs up) ends it all."""
    accepted: list[str] = []
    refused: dict[str, str] = {}
    for recipient in recipients:
        try:
            await client.rcpt(recipient, encoding=encoding)
            accepted.append(recipient)
        except UnicodeEncodeError:
            refused[recipient] = NEEDS_SMTPUTF8
        except aiosmtplib.SMTPRecipientRefused as error:
            if error.code == CLOSING:
                raise
            refused[recipient] = f"{error.code} {error.message}"
    return accepted, refused


async def _send_data(client: aiosmtplib.SMTP, data: bytes) -> str:
    try:
        response = await client.data(data)
    except aiosmtplib.SMTPResponseException as error:
        if isinstance(error, aiosmtplib.SMTPServerDisconnected):
            raise DeliveryUnknown(f"connection lost after the message data: {error}") from error
        raise rejection(error.code, error.message) from error
    except (*_BROKEN, *_TIMEOUTS) as error:
        raise DeliveryUnknown(f"no reply after the message data: {error!r}") from error
    return f"{response.code} {response.message}"


def _all_refused(refused: dict[str, str]) -> DeliveryError:
    """Temporary when any refusal was a 4xx (a retry may reach that recipient), else permanent."""
    codes = [int(reply.split(" ", 1)[0]) for reply in refused.values()]
    code = max(codes) if codes else 550
    if any(400 <= c < 500 for c in codes):
        code = min(c for c in codes if 400 <= c < 500)
    replies = "; ".join(f"{recipient}: {reply}" for recipient, reply in refused.items())
    return rejection(code, f"every recipient was refused ({replies})", refused)


def _before_data_failure(error: Exception) -> DeliveryError:
    """Classify a failure that happened before any message data left: never a sync gap."""
    if isinstance(error, DeliveryError):
        return error
    if isinstance(error, _TIMEOUTS):  # first: a connect timeout is also an SMTPConnectError
        return DeliveryTimeout(str(error) or "timed out")
    if isinstance(error, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError):
        return ConnectionFailed(str(error) or type(error).__name__)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return rejection(error.code, error.message)
    if isinstance(error, UnicodeEncodeError):
        return PermanentRejection(f"{NEEDS_SMTPUTF8} (the sender)")
    if isinstance(error, ssl.SSLError | OSError | aiosmtplib.SMTPException):
        return ConnectionFailed(f"{type(error).__name__}: {error}")
    raise error


async def _reset(client: aiosmtplib.SMTP) -> None:
    try:
        await client.rset()
    except Exception as error:
        raise _before_data_failure(error) from error


async def _discard(client: aiosmtplib.SMTP, polite: bool = False) -> None:
    try:
        if polite and client.is_connected:
            await client.quit()
    except Exception:  # noqa: S110 - best effort on a connection we are dropping
        pass
    client.close()
