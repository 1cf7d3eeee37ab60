"""The transport interface, the message it carries, and the delivery exception tree."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

BeforeData = Callable[[], Awaitable[None]]
"""Called right before the message data is handed over: the dispatcher records, durably,
that from now on a crash leaves the delivery unknown."""


@dataclass(frozen=True)
class OutgoingMessage:
    """One message ready for the wire: envelope and the RFC 5322 bytes, every line ended by
    CRLF (no lone CR or LF: a transport sends them as they are)."""

    email_id: str
    envelope_from: str
    recipients: tuple[str, ...]
    data: bytes
    message_id: str = ""


@dataclass(frozen=True)
class DeliveryReceipt:
    """The server accepted the message for ``accepted``; ``refused`` maps the rest to replies."""

    accepted: tuple[str, ...]
    refused: dict[str, str] = field(default_factory=dict)
    reply: str = ""


class Transport(Protocol):
    async def deliver(self, message: OutgoingMessage, before_data: BeforeData) -> DeliveryReceipt:
        """Send ``message``; raise a ``DeliveryError`` when it was not (surely) accepted."""
        ...

    async def close(self) -> None:
        """Release connections; the transport may be used again afterwards."""
        ...


class DeliveryError(Exception):
    """Base of every delivery failure."""

    error_class = "DeliveryError"

    def __init__(self, message: str, refused: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.refused = dict(refused or {})


class TransientDeliveryError(DeliveryError):
    error_class = "TransientDeliveryError"


class ConnectionFailed(TransientDeliveryError):
    error_class = "ConnectionFailed"


class DeliveryTimeout(TransientDeliveryError):
    error_class = "DeliveryTimeout"


class TemporaryRejection(TransientDeliveryError):
    error_class = "TemporaryRejection"


class PermanentDeliveryError(DeliveryError):
    error_class = "PermanentDeliveryError"


class PermanentRejection(PermanentDeliveryError):
    error_class = "PermanentRejection"


class AuthenticationFailed(PermanentDeliveryError):
    error_class = "AuthenticationFailed"


class InsecureConnection(PermanentDeliveryError):
    """The connection cannot be as safe as the settings ask, or as a password needs: nothing
    was sent on it (see ``transports.security``)."""

    error_class = "InsecureConnection"


class DeliveryUnknown(DeliveryError):
    error_class = "DeliveryUnknown"


AUTHENTICATION_REQUIRED = 530
"""RFC 4954's "530 5.7.0 Authentication required" (or "must issue STARTTLS first"): the
server takes mail only from a client that logged in, which these settings did not."""


def rejection(code: int, reply: str, refused: dict[str, str] | None = None) -> DeliveryError:
    """A 4xx reply is temporary, anything else permanent; a 530 says the SMTP settings lack
    what the server requires (credentials, or TLS before them): ``AuthenticationFailed``."""
    text = f"{code} {reply}".strip()
    if 400 <= code < 500:
        return TemporaryRejection(text, refused)
    if code == AUTHENTICATION_REQUIRED:
        return AuthenticationFailed(text, refused)
    return PermanentRejection(text, refused)
