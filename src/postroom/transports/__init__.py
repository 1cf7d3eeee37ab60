"""How messages leave Postroom: SMTP, a Maildir capture, and fakes for tests and benchmarks.

Exception tree (what a transport raises; the dispatcher's retry policy reads it)::

    DeliveryError
    ├── TransientDeliveryError      retry later with backoff: nothing was accepted
    │   ├── ConnectionFailed        refused, reset, TLS failure, closed before DATA
    │   ├── DeliveryTimeout         no answer in time (before DATA)
    │   └── TemporaryRejection      4xx reply to MAIL, RCPT (all recipients), DATA or
    │                               AUTH; 421 (closing) to any RCPT
    ├── PermanentDeliveryError      give up at once: ``error``
    │   ├── PermanentRejection      5xx greeting; 5xx reply to MAIL, RCPT (all recipients)
    │                               or DATA; a non-ASCII sender the server cannot take (no
    │                               SMTPUTF8)
    │   ├── AuthenticationFailed    the server refused our credentials (5xx to AUTH), or
    │                               offers no AUTH we can use (none before STARTTLS, say)
    │   └── InsecureConnection      the settings require STARTTLS and the server offers
    │                               none; the server's certificate fails verification; a
    │                               password would go unencrypted to a host off loopback
    └── DeliveryUnknown             the connection broke after the message data was sent
                                    and before the reply (the SMTP sync gap): never resent
                                    automatically
"""

from postroom.transports.base import (
    AuthenticationFailed,
    BeforeData,
    ConnectionFailed,
    DeliveryError,
    DeliveryReceipt,
    DeliveryTimeout,
    DeliveryUnknown,
    InsecureConnection,
    OutgoingMessage,
    PermanentDeliveryError,
    PermanentRejection,
    TemporaryRejection,
    TransientDeliveryError,
    Transport,
)

__all__ = [
    "AuthenticationFailed",
    "BeforeData",
    "ConnectionFailed",
    "DeliveryError",
    "DeliveryReceipt",
    "DeliveryTimeout",
    "DeliveryUnknown",
    "InsecureConnection",
    "OutgoingMessage",
    "PermanentDeliveryError",
    "PermanentRejection",
    "TemporaryRejection",
    "TransientDeliveryError",
    "Transport",
]
