"""A real SMTP server on loopback (aiosmtpd in its own thread) that can misbehave on purpose.

Behaviours are set per test through ``SmtpServer.behaviour``: reply codes for MAIL, RCPT and
DATA, refusing some recipients, dropping the connection before or after the message data, and
answering slowly. Every message the server accepted (or received before dropping the
connection) is kept in ``received`` with its envelope and raw bytes. A server started with
``auth=True`` offers AUTH on the plain connection too and keeps every login it was sent in
``logins``; it listens on loopback unless given another ``host``.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Behaviour:
    mail_reply: str | None = None
    """e.g. ``"451 try later"`` or ``"550 no"``: the reply to MAIL FROM instead of 250."""
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    """recipient → reply (e.g. ``"550 no such user"``); others are accepted."""
    data_reply: str | None = None
    drop_before_data: bool = False
    """Close the connection when RCPT arrives (nothing was sent)."""
    drop_after_data: bool = False
    """Receive the whole message, then close the connection without replying (sync gap)."""
    delay: float = 0.0
    """Seconds to wait before answering DATA."""
    hold_data: threading.Event | None = None
    """DATA is answered only once this is set (the message is held in flight meanwhile)."""
    pipelining: bool = True
    """Offer PIPELINING in the EHLO reply (aiosmtpd reads pipelined commands one by one)."""
    smtputf8: bool = True
    """Offer SMTPUTF8 in the EHLO reply (RFC 6531)."""
    max_recipients: int | None = None
    """Recipients a transaction takes; each one more is answered ``too_many_reply``."""
    too_many_reply: str = "452 4.5.3 Too many recipients"
    temporary_share: float = 0.0
    """Share of recipients answered ``451`` at random (a temporary failure: retried)."""
    drop_share: float = 0.0
    """Share of messages received whole and then dropped without a reply, at random (the sync
    gap: the message is kept, the client cannot know it)."""
    auth_reply: str | None = None
    """e.g. ``"454 4.7.0 Temporary authentication failure"``: the reply to AUTH instead of 235
    (for a server started with ``auth=True``)."""

    def temporary_now(self) -> bool:
        return random.random() < self.temporary_share  # noqa: S311 - test behaviour

    def drop_now(self) -> bool:
        return self.drop_after_data or random.random() < self.drop_share  # noqa: S311


@dataclass
class ReceivedMessage:
    mail_from: str
    recipients: list[str]
    data: bytes
    accepted: bool

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        behaviour = self.server.behaviour
        if not behaviour.smtputf8:
            responses = [reply for reply in responses if reply[4:] != "SMTPUTF8"]
        if not behaviour.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.server.behaviour.mail_reply
        if reply:
            return reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        behaviour = self.server.behaviour
        if behaviour.drop_before_data:
            server.transport.close()
            return "421 closing"
        if behaviour.max_recipients is not None:
            if len(envelope.rcpt_tos) >= behaviour.max_recipients:
                return behaviour.too_many_reply
        if address in behaviour.rcpt_replies:
            return behaviour.rcpt_replies[address]
        if behaviour.temporary_now():
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        behaviour = self.server.behaviour
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if behaviour.hold_data is not None:
            await asyncio.to_thread(behaviour.hold_data.wait, 60.0)
        drop = behaviour.drop_now()
        accepted = behaviour.data_reply is None and not drop
        self.server.record(envelope, accepted or drop)
        if drop:
            server.transport.close()
            return "250 never heard"
        return behaviour.data_reply or "250 Message accepted"


class SmtpServer:
    def __init__(self, host: str = "127.0.0.1", auth: bool = False, **smtp: Any) -> None:
        self.behaviour = Behaviour()
        self.received: list[ReceivedMessage] = []
        self.logins: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.host = host
        self.port = free_port(host)
        if auth:
            smtp.update(authenticator=self._authenticate, auth_require_tls=False)
        self._controller = Controller(
            _Handler(self), hostname=host, port=self.port, data_size_limit=50_000_000, **smtp
        )

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}?timeout=5"

    @property
    def account_url(self) -> str:
        """The URL for ``postroom accounts add``, which keeps no option but the security."""
        return f"smtp://{self.host}:{self.port}"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        with self._lock:
            self.logins.append((data.login.decode(), data.password.decode()))
        refusal = self.behaviour.auth_reply
        return AuthResult(success=refusal is None, handled=False, message=refusal)

    def record(self, envelope: Any, kept: bool) -> None:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        message = ReceivedMessage(envelope.mail_from, list(envelope.rcpt_tos), data, kept)
        with self._lock:
            self.received.append(message)

    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self.received)

    def message_id_counts(self) -> Counter[str]:
        return Counter(message.message_id for message in self.messages())

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def address_off_loopback() -> str | None:
    """This machine's own IPv4 address on its way out (no packet is sent: a UDP socket only
    picks its route), or None when it has none that is not loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


@contextmanager
def smtp_server(host: str = "127.0.0.1", auth: bool = False, **smtp: Any) -> Iterator[SmtpServer]:
    """A started ``SmtpServer``; ``smtp`` goes to aiosmtpd (``tls_context=`` offers STARTTLS)."""
    server = SmtpServer(host, auth, **smtp)
    server.start()
    try:
        yield server
    finally:
        server.stop()
