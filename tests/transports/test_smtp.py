"""SmtpTransport against real servers on loopback: every failure raises its class of the tree,
the sync gap is never mistaken for a safe failure, and the pool reuses and bounds connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from postroom.transports import (
    AuthenticationFailed,
    ConnectionFailed,
    DeliveryError,
    DeliveryTimeout,
    DeliveryUnknown,
    InsecureConnection,
    OutgoingMessage,
    PermanentDeliveryError,
    PermanentRejection,
    TemporaryRejection,
    TransientDeliveryError,
)
from postroom.transports.smtp import SmtpSettings, SmtpTransport, is_fully_qualified
from tests.smtp_server import Behaviour, SmtpServer, free_port, smtp_server
from tests.transports.certificates import self_signed_context
from tests.transports.conftest import Connect

SENDER = "jane@sender.example.com"
BOB = "bob@buyer.example.com"
CAROL = "carol@buyer.example.com"
JOERG = "jörg@buyer.example.com"

StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def message(*recipients: str, number: int = 1) -> OutgoingMessage:
    message_id = f"<{number}@sender.example.com>"
    data = (
        f"From: {SENDER}\r\nTo: {BOB}\r\nSubject: Number {number}\r\n"
        f"Message-ID: {message_id}\r\n\r\nHello\r\n"
    ).encode()
    return OutgoingMessage(
        f"acti_{number}", SENDER, recipients or (BOB,), data, message_id=message_id
    )


class HandoverRefused(Exception):
    """What a ``before_data`` callback raises when the message must not be handed over."""


@dataclass
class Handover:
    """A ``before_data`` callback that counts its calls and can refuse the handover."""

    calls: int = 0
    refuse: bool = False

    async def __call__(self) -> None:
        self.calls += 1
        if self.refuse:
            raise HandoverRefused


class ConnectionCounter:
    """A TCP relay in front of the SMTP server: counts connections and can cut them."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.opened = 0
        self.open_now = 0
        self.most_open = 0
        self._clients: set[asyncio.StreamWriter] = set()
        self._relays: set[asyncio.Task[Any]] = set()

    async def relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._relays.add(task)
        self._clients.add(writer)
        self._count(+1)
        try:
            upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            await asyncio.gather(pipe(reader, upstream[1]), pipe(upstream[0], writer))
        finally:
            self._clients.discard(writer)
            self._count(-1)
            writer.close()

    def _count(self, change: int) -> None:
        self.opened += max(change, 0)
        self.open_now += change
        self.most_open = max(self.most_open, self.open_now)

    def cut(self) -> None:
        """Close every client connection, as a server does with idle ones."""
        for writer in self._clients:
            writer.close()

    async def stop(self) -> None:
        self.cut()
        await asyncio.wait_for(asyncio.gather(*self._relays, return_exceptions=True), 5)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@asynccontextmanager
async def tcp_server(handler: StreamHandler) -> AsyncIterator[int]:
    """A loopback TCP server running ``handler`` for each connection; yields its port."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def counted(smtp: SmtpServer) -> AsyncIterator[ConnectionCounter]:
    counter = ConnectionCounter(smtp.port)
    async with tcp_server(counter.relay) as port:
        counter.port = port
        try:
            yield counter
        finally:
            await counter.stop()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts the connection and never greets."""
    await reader.read()
    writer.close()


async def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Closes the connection at once, before the greeting."""
    writer.close()


async def stall_on_mail(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Greets and answers EHLO, then never answers MAIL."""
    writer.write(b"220 stalling.example.com ESMTP\r\n")
    while line := await reader.readline():
        if line[:4].upper() in {b"EHLO", b"HELO"}:
            writer.write(b"250 stalling.example.com\r\n")
    writer.close()


@pytest.fixture(params=[True, False], ids=["pipelining", "one-by-one"])
def smtp(request: pytest.FixtureRequest) -> Iterator[SmtpServer]:
    """A real SMTP server, once offering PIPELINING and once not: every behaviour holds both
    when the transaction's commands go in one write and when they go one by one."""
    with smtp_server() as server:
        server.behaviour = Behaviour(pipelining=request.param)
        yield server


def behaving(smtp: SmtpServer, **changes: Any) -> None:
    """Change how ``smtp`` answers, keeping whether it offers PIPELINING."""
    smtp.behaviour = replace(smtp.behaviour, **changes)


async def failure(transport: SmtpTransport, handover: Handover | None = None) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        await transport.deliver(message(BOB, CAROL), handover or Handover())
    return caught.value


# -- the exception tree ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error_class", "base"),
    [
        (ConnectionFailed, TransientDeliveryError),
        (DeliveryTimeout, TransientDeliveryError),
        (TemporaryRejection, TransientDeliveryError),
        (PermanentRejection, PermanentDeliveryError),
        (AuthenticationFailed, PermanentDeliveryError),
        (InsecureConnection, PermanentDeliveryError),
        (DeliveryUnknown, DeliveryError),
    ],
)
def test_exception_tree_is_the_documented_one(
    error_class: type[DeliveryError], base: type[DeliveryError]
) -> None:
    assert error_class.__mro__[1] is base
    assert error_class.error_class == error_class.__name__


def test_delivery_unknown_is_neither_transient_nor_permanent() -> None:
    assert not issubclass(DeliveryUnknown, TransientDeliveryError | PermanentDeliveryError)


# -- replies -----------------------------------------------------------------------------------


async def test_accepted_message_returns_the_recipients_and_the_reply(
    smtp: SmtpServer, connect: Connect
) -> None:
    handover = Handover()
    receipt = await connect(smtp.port).deliver(message(BOB, CAROL), handover)
    assert receipt.accepted == (BOB, CAROL)
    assert receipt.refused == {}
    assert receipt.reply == "250 Message accepted"
    assert handover.calls == 1
    [received] = smtp.messages()
    assert (received.mail_from, received.recipients) == (SENDER, [BOB, CAROL])


TEMPORARY = "451 4.3.0 try again later"
PERMANENT = "554 5.7.1 rejected as spam"


@pytest.mark.parametrize(
    "behaviour",
    [Behaviour(mail_reply=TEMPORARY), Behaviour(data_reply=TEMPORARY)],
    ids=["mail", "data"],
)
async def test_4xx_reply_is_a_temporary_rejection(
    smtp: SmtpServer, connect: Connect, behaviour: Behaviour
) -> None:
    behaving(smtp, **{key: getattr(behaviour, key) for key in ("mail_reply", "data_reply")})
    error = await failure(connect(smtp.port))
    assert type(error) is TemporaryRejection
    assert error.message == TEMPORARY


@pytest.mark.parametrize(
    "behaviour",
    [Behaviour(mail_reply=PERMANENT), Behaviour(data_reply=PERMANENT)],
    ids=["mail", "data"],
)
async def test_5xx_reply_is_a_permanent_rejection(
    smtp: SmtpServer, connect: Connect, behaviour: Behaviour
) -> None:
    behaving(smtp, **{key: getattr(behaviour, key) for key in ("mail_reply", "data_reply")})
    error = await failure(connect(smtp.port))
    assert type(error) is PermanentRejection
    assert error.message == PERMANENT


@pytest.mark.parametrize(
    "reply", ["530 5.7.0 Authentication required", "530 5.7.0 Must issue a STARTTLS command first"]
)
async def test_530_to_mail_says_the_settings_cannot_log_in(
    smtp: SmtpServer, connect: Connect, reply: str
) -> None:
    """The server takes mail only after AUTH, which these settings do not give: like refused
    credentials (``need_smtp_credentials``), not a rejection of this one message."""
    behaving(smtp, mail_reply=reply)
    error = await failure(connect(smtp.port))
    assert type(error) is AuthenticationFailed
    assert error.message == reply


async def test_5xx_on_mail_hands_no_data_over(smtp: SmtpServer, connect: Connect) -> None:
    behaving(smtp, mail_reply="550 5.1.8 bad sender")
    handover = Handover()
    await failure(connect(smtp.port), handover)
    assert handover.calls == 0
    assert smtp.messages() == []


async def test_some_recipients_refused_delivers_to_the_others_and_reports_the_refusals(
    smtp: SmtpServer, connect: Connect
) -> None:
    behaving(smtp, rcpt_replies={BOB: "550 5.1.1 no such user"})
    receipt = await connect(smtp.port).deliver(message(BOB, CAROL), Handover())
    assert receipt.accepted == (CAROL,)
    assert receipt.refused == {BOB: "550 5.1.1 no such user"}
    [received] = smtp.messages()
    assert received.recipients == [CAROL]


async def test_every_recipient_refused_with_5xx_is_a_permanent_rejection_naming_each_reply(
    smtp: SmtpServer, connect: Connect
) -> None:
    behaving(smtp, rcpt_replies={BOB: "550 5.1.1 no such user", CAROL: "553 bad"})
    handover = Handover()
    error = await failure(connect(smtp.port), handover)
    assert type(error) is PermanentRejection
    assert error.refused == {BOB: "550 5.1.1 no such user", CAROL: "553 bad"}
    assert f"{BOB}: 550 5.1.1 no such user" in error.message
    assert f"{CAROL}: 553 bad" in error.message
    assert handover.calls == 0
    assert smtp.messages() == []


async def test_every_recipient_refused_with_a_4xx_among_them_is_a_temporary_rejection(
    smtp: SmtpServer, connect: Connect
) -> None:
    behaving(smtp, rcpt_replies={BOB: "452 4.2.2 mailbox full", CAROL: "550 no"})
    error = await failure(connect(smtp.port))
    assert type(error) is TemporaryRejection
    assert error.message.startswith("452 ")


# -- connections that fail before the message data ---------------------------------------------


async def test_credentials_for_a_server_without_auth_are_an_authentication_failure(
    smtp: SmtpServer, connect: Connect
) -> None:
    """The account has credentials, the server offers no AUTH (as many do before STARTTLS):
    its settings cannot log in, which retrying does not change."""
    handover = Handover()
    error = await failure(connect(smtp.port, username="u", password="p"), handover)
    assert type(error) is AuthenticationFailed
    assert "AUTH" in error.message
    assert (handover.calls, smtp.received) == (0, [])


@pytest.mark.parametrize(
    "too_many", ["452 4.5.3 Too many recipients", "552 5.5.3 Too many recipients"]
)
async def test_recipients_over_the_servers_limit_get_the_message_in_further_transactions(
    smtp: SmtpServer, connect: Connect, too_many: str
) -> None:
    """RFC 5321 §4.5.3.1.10: 452 to a RCPT says the transaction is full, not that the
    recipient is refused (and 552 with 5.5.3 is read the same, as RFC 5321 asks); the data's
    sync gap (``before_data``) opens once."""
    behaving(smtp, max_recipients=2, too_many_reply=too_many)
    recipients = tuple(f"r{n}@buyer.example.com" for n in range(5))
    handover = Handover()
    receipt = await connect(smtp.port).deliver(message(*recipients), handover)
    assert (receipt.accepted, receipt.refused, handover.calls) == (recipients, {}, 1)
    received = smtp.messages()
    assert [m.recipients for m in received] == [
        list(recipients[:2]),
        list(recipients[2:4]),
        [recipients[4]],
    ]
    assert {m.data for m in received} == {received[0].data}


async def test_a_recipient_refused_in_a_further_transaction_is_reported_with_its_reply(
    smtp: SmtpServer, connect: Connect
) -> None:
    """Carol, put off by the first transaction, is refused by the second: Bob has the
    message, and Carol's refusal is the server's own reply."""
    behaving(smtp, max_recipients=1, rcpt_replies={CAROL: "550 5.1.1 no such user"})
    transport = connect(smtp.port)
    receipt = await transport.deliver(message(BOB, CAROL), Handover())
    assert receipt.accepted == (BOB,)
    assert receipt.refused == {CAROL: "550 5.1.1 no such user"}
    assert [m.recipients for m in smtp.messages()] == [[BOB]]
    await transport.deliver(message(BOB, number=2), Handover())
    assert len(smtp.messages()) == 2


async def test_refused_connection_is_connection_failed(connect: Connect) -> None:
    error = await failure(connect(free_port()))
    assert type(error) is ConnectionFailed


@pytest.mark.parametrize("host", ["a" * 64 + ".example.com", "smtp..example.com"])
async def test_a_host_name_that_cannot_be_looked_up_is_connection_failed(host: str) -> None:
    """A name with an empty or over-long label cannot even be encoded for DNS (Python raises
    ``UnicodeError``): the server cannot be reached, like a name that does not resolve, and
    the email is retried and then given up, not left to lease expiry again and again."""
    transport = SmtpTransport(SmtpSettings(host, 25, timeout=5.0))
    error = await failure(transport)
    assert type(error) is ConnectionFailed
    assert "UnicodeError" in error.message


async def test_connection_closed_before_the_greeting_is_connection_failed(
    connect: Connect,
) -> None:
    async with tcp_server(hang_up) as port:
        error = await failure(connect(port))
    assert type(error) is ConnectionFailed


def greeting(line: bytes) -> StreamHandler:
    """A server that greets with ``line`` and then only listens."""

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(line + b"\r\n")
        await reader.read()
        writer.close()

    return greet


@pytest.mark.parametrize(
    ("reply", "error_class"),
    [
        ("554 5.7.1 no SMTP service here", PermanentRejection),
        ("421 4.3.2 too busy, try later", ConnectionFailed),
    ],
)
async def test_a_greeting_other_than_220_is_read_by_its_code(
    connect: Connect, reply: str, error_class: type[DeliveryError]
) -> None:
    """RFC 5321 §3.1: a 554 greeting says the server will not serve this client, for good;
    a 421 one that it cannot now (the server could not be used: retried)."""
    async with tcp_server(greeting(reply.encode())) as port:
        error = await failure(connect(port))
    assert type(error) is error_class
    assert error.message == reply


async def test_tls_handshake_failure_is_connection_failed(
    smtp: SmtpServer, connect: Connect
) -> None:
    error = await failure(connect(smtp.port, security="tls", validate_certs=False))
    assert type(error) is ConnectionFailed
    assert "SSL" in error.message


async def test_drop_before_data_is_connection_failed_and_hands_no_data_over(
    smtp: SmtpServer, connect: Connect
) -> None:
    behaving(smtp, drop_before_data=True)
    handover = Handover()
    error = await failure(connect(smtp.port), handover)
    assert type(error) is ConnectionFailed
    assert handover.calls == 0
    assert smtp.messages() == []


async def test_no_greeting_in_time_is_a_delivery_timeout(connect: Connect) -> None:
    async with tcp_server(silent) as port:
        error = await failure(connect(port, timeout=0.3))
    assert type(error) is DeliveryTimeout


async def test_no_reply_to_mail_in_time_is_a_delivery_timeout(connect: Connect) -> None:
    handover = Handover()
    async with tcp_server(stall_on_mail) as port:
        error = await failure(connect(port, timeout=0.3), handover)
    assert type(error) is DeliveryTimeout
    assert handover.calls == 0


async def test_421_to_a_later_recipient_is_a_temporary_rejection_before_any_data(
    smtp: SmtpServer, connect: Connect
) -> None:
    behaving(smtp, rcpt_replies={CAROL: "421 4.7.0 closing connection"})
    handover = Handover()
    error = await failure(connect(smtp.port), handover)
    assert type(error) is TemporaryRejection
    assert error.message == "421 4.7.0 closing connection"
    assert handover.calls == 0
    assert smtp.messages() == []


async def test_refused_handover_stops_before_any_data(smtp: SmtpServer, connect: Connect) -> None:
    with pytest.raises(HandoverRefused):
        await connect(smtp.port).deliver(message(), Handover(refuse=True))
    assert smtp.messages() == []


# -- the sync gap ------------------------------------------------------------------------------


async def test_drop_after_the_data_is_delivery_unknown(smtp: SmtpServer, connect: Connect) -> None:
    behaving(smtp, drop_after_data=True)
    handover = Handover()
    error = await failure(connect(smtp.port), handover)
    assert type(error) is DeliveryUnknown
    assert handover.calls == 1
    assert len(smtp.messages()) == 1


async def test_no_reply_to_the_data_in_time_is_delivery_unknown(
    smtp: SmtpServer, connect: Connect
) -> None:
    behaving(smtp, delay=0.6)
    error = await failure(connect(smtp.port, timeout=0.3))
    assert type(error) is DeliveryUnknown


# -- the pool ----------------------------------------------------------------------------------


async def test_connection_is_reused_for_the_next_messages(
    smtp: SmtpServer, connect: Connect
) -> None:
    async with counted(smtp) as counter:
        transport = connect(counter.port)
        for number in range(3):
            await transport.deliver(message(number=number), Handover())
        assert counter.opened == 1
    assert len(smtp.messages()) == 3


async def test_connection_closed_by_the_server_while_idle_is_replaced(
    smtp: SmtpServer, connect: Connect
) -> None:
    async with counted(smtp) as counter:
        transport = connect(counter.port)
        await transport.deliver(message(number=1), Handover())
        counter.cut()
        await asyncio.sleep(0.1)
        receipt = await transport.deliver(message(number=2), Handover())
        assert counter.opened == 2
    assert receipt.accepted == (BOB,)


@dataclass
class HangsUpOnReuse:
    """A server whose idle timeout fires just as a connection is reused: it takes one message
    on each connection, and hangs up, unanswered, on the next command."""

    messages: int = 0
    connections: int = 0

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"220 idle.example.com ESMTP\r\n")
        served = False
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"MAIL" and served:
                break
            if verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                while await reader.readline() not in {b".\r\n", b""}:
                    pass
                self.messages, served = self.messages + 1, True
            writer.write(b"250 OK\r\n")
        writer.close()


async def test_a_reused_connection_the_server_hung_up_on_is_replaced_at_once(
    connect: Connect,
) -> None:
    """Nothing was sent on it, so the message goes out on a new connection at once, not after
    a retry delay, with a failed attempt recorded against a healthy server."""
    server = HangsUpOnReuse()
    async with tcp_server(server.session) as port:
        transport = connect(port)
        await transport.deliver(message(number=1), Handover())
        handover = Handover()
        receipt = await transport.deliver(message(number=2), handover)
    assert receipt.accepted == (BOB,)
    assert (server.messages, server.connections, handover.calls) == (2, 2, 1)


async def test_connection_is_replaced_after_a_failed_delivery(
    smtp: SmtpServer, connect: Connect
) -> None:
    async with counted(smtp) as counter:
        transport = connect(counter.port)
        behaving(smtp, drop_after_data=True)
        await failure(transport)
        behaving(smtp, drop_after_data=False)
        receipt = await transport.deliver(message(number=2), Handover())
        assert counter.opened == 2
    assert receipt.accepted == (BOB,)


async def test_pool_never_opens_more_than_max_connections(
    smtp: SmtpServer, connect: Connect
) -> None:
    behaving(smtp, delay=0.05)
    async with counted(smtp) as counter:
        transport = connect(counter.port, max_connections=3)
        sends = [transport.deliver(message(number=n), Handover()) for n in range(12)]
        await asyncio.gather(*sends)
        assert (counter.most_open, counter.opened) == (3, 3)
    assert len(smtp.messages()) == 12


async def test_closed_transport_can_be_used_again(smtp: SmtpServer, connect: Connect) -> None:
    async with counted(smtp) as counter:
        transport = connect(counter.port)
        await transport.deliver(message(number=1), Handover())
        await transport.close()
        await transport.deliver(message(number=2), Handover())
        assert counter.opened == 2
    assert len(smtp.messages()) == 2


# -- internationalized addresses ---------------------------------------------------------------


class Recorder:
    """An aiosmtpd handler that keeps each accepted envelope as (MAIL FROM, RCPT TOs)."""

    def __init__(self) -> None:
        self.envelopes: list[tuple[str, list[str]]] = []
        self.mail_options: list[list[str]] = []
        self.helo_names: list[str] = []

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.helo_names.append(hostname)
        session.host_name = hostname
        return responses

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.mail_options.append(options)
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@pytest.fixture
def ascii_only() -> Iterator[tuple[int, Recorder]]:
    """A real aiosmtpd server that does not offer SMTPUTF8; yields its port and recorder."""
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    try:
        yield port, recorder
    finally:
        controller.stop()


async def test_non_ascii_address_is_sent_over_smtputf8_when_the_server_offers_it(
    smtp: SmtpServer, connect: Connect
) -> None:
    receipt = await connect(smtp.port).deliver(message(JOERG, BOB), Handover())
    assert receipt.accepted == (JOERG, BOB)
    [received] = smtp.messages()
    assert received.recipients == [JOERG, BOB]


async def test_non_ascii_recipient_is_refused_when_the_server_lacks_smtputf8(
    ascii_only: tuple[int, Recorder], connect: Connect
) -> None:
    port, recorder = ascii_only
    receipt = await connect(port).deliver(message(JOERG, BOB), Handover())
    assert receipt.accepted == (BOB,)
    assert receipt.refused[JOERG].startswith("553 5.6.7 ")
    assert recorder.envelopes == [(SENDER, [BOB])]


async def test_non_ascii_sender_is_a_permanent_rejection_when_the_server_lacks_smtputf8(
    ascii_only: tuple[int, Recorder], connect: Connect
) -> None:
    port, recorder = ascii_only
    from_joerg = replace(message(BOB), envelope_from="jörg@sender.example.com")
    with pytest.raises(PermanentRejection, match="^553 5.6.7 "):
        await connect(port).deliver(from_joerg, Handover())
    assert recorder.envelopes == []


async def test_a_message_with_utf8_headers_is_refused_whole_when_the_server_lacks_smtputf8(
    ascii_only: tuple[int, Recorder], connect: Connect
) -> None:
    """Jörg in Cc makes the headers UTF-8 (RFC 6532): refusing only Jörg's RCPT would hand Bob
    8-bit headers over a connection that never agreed to carry them."""
    port, recorder = ascii_only
    ascii_message = message(BOB, JOERG)
    utf8_headers = replace(
        ascii_message,
        data=ascii_message.data.replace(b"\r\n\r\n", f"\r\nCc: {JOERG}\r\n\r\n".encode()),
    )
    handover = Handover()
    with pytest.raises(PermanentRejection, match="^554 5.6.7 .*SMTPUTF8"):
        await connect(port).deliver(utf8_headers, handover)
    assert (recorder.envelopes, handover.calls) == ([], 0)


# -- message size (RFC 1870) ------------------------------------------------------------------


@pytest.fixture
def small_limit() -> Iterator[tuple[int, Recorder]]:
    """A real aiosmtpd server that takes messages of at most 2,000 octets (``SIZE 2000``)."""
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, data_size_limit=2000)
    controller.start()
    try:
        yield port, recorder
    finally:
        controller.stop()


async def test_mail_from_declares_the_size_of_the_message_when_the_server_offers_size(
    small_limit: tuple[int, Recorder], connect: Connect
) -> None:
    port, recorder = small_limit
    await connect(port).deliver(message(), Handover())
    assert recorder.mail_options == [[f"SIZE={len(message().data)}"]]
    assert recorder.envelopes == [(SENDER, [BOB])]


async def test_a_message_over_the_servers_size_is_refused_for_good_before_any_data(
    small_limit: tuple[int, Recorder], connect: Connect
) -> None:
    """Neither the data nor a command: the server said what it takes (552 is permanent)."""
    port, recorder = small_limit
    big = replace(message(), data=message().data + b"x" * 2000 + b"\r\n")
    handover = Handover()
    with pytest.raises(PermanentRejection, match="^552 5.3.4 .*2000"):
        await connect(port).deliver(big, handover)
    assert (recorder.mail_options, handover.calls) == ([], 0)


# -- pipelining (RFC 2920) and TLS -------------------------------------------------------------


async def answer_only_whole_groups(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Offers PIPELINING and answers MAIL, RCPT and DATA only once all of them arrived, in one
    write: a client that waited for each reply would wait forever."""
    writer.write(b"220 strict.example.com ESMTP\r\n")
    assert (await reader.readline()).startswith(b"EHLO")
    writer.write(b"250-strict.example.com\r\n250-PIPELINING\r\n250 HELP\r\n")
    group = [await reader.readline() for _ in range(4)]
    assert [line.split(b":")[0] for line in group] == [
        b"MAIL FROM",
        b"RCPT TO",
        b"RCPT TO",
        b"DATA\r\n",
    ]
    writer.write(
        b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550-5.1.1 no such\r\n550 5.1.1 user\r\n354 go\r\n"
    )
    while await reader.readline() != b".\r\n":
        pass
    writer.write(b"250 2.0.0 queued as 1\r\n")
    await reader.read()
    writer.close()


async def test_pipelining_server_gets_mail_rcpt_and_data_in_one_group(connect: Connect) -> None:
    handover = Handover()
    async with tcp_server(answer_only_whole_groups) as port:
        receipt = await asyncio.wait_for(connect(port).deliver(message(BOB, CAROL), handover), 5)
    assert receipt.accepted == (BOB,)
    assert receipt.refused == {CAROL: "550 5.1.1 no such\n5.1.1 user"}
    assert receipt.reply == "250 2.0.0 queued as 1"
    assert handover.calls == 1


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_messages_go_over_tls_and_starttls_connections_reused(
    connect: Connect, security: str
) -> None:
    recorder = Recorder()
    port = free_port()
    context = self_signed_context()
    tls = {"ssl_context": context} if security == "tls" else {"tls_context": context}
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **tls)  # type: ignore[arg-type]
    controller.start()
    try:
        transport = connect(port, security=security, validate_certs=False, helo_name=CLIENT)
        for number in range(3):
            receipt = await transport.deliver(message(number=number), Handover())
            assert receipt.accepted == (BOB,)
        await transport.close()
    finally:
        controller.stop()
    assert recorder.envelopes == [(SENDER, [BOB])] * 3
    assert recorder.helo_names == [CLIENT] * (2 if security == "starttls" else 1)


# -- the client's name in EHLO (RFC 5321 §4.1.4) -------------------------------------------------

CLIENT = "crm.sender.example.com"


async def test_the_client_gives_the_helo_name_of_its_settings(
    ascii_only: tuple[int, Recorder], connect: Connect
) -> None:
    port, recorder = ascii_only
    await connect(port, helo_name=CLIENT).deliver(message(), Handover())
    assert recorder.helo_names == [CLIENT]


async def test_without_one_the_client_gives_a_fully_qualified_name_or_its_address_literal(
    ascii_only: tuple[int, Recorder], connect: Connect
) -> None:
    """Never ``localhost`` or a container's bare host name (``socket.getfqdn()`` gives those
    where the machine has no name in the DNS): servers refuse a name that is not fully
    qualified, spam filters score ``localhost``."""
    port, recorder = ascii_only
    await connect(port).deliver(message(), Handover())
    [name] = recorder.helo_names
    assert is_fully_qualified(name) or name == "[127.0.0.1]"


async def test_a_server_that_knows_only_helo_gets_helo_and_plain_commands(
    connect: Connect,
) -> None:
    """RFC 5321 §4.1.4 / §3.2: EHLO refused (502), the client says HELO with the same name
    and uses no extension (no SIZE, no pipelining)."""
    lines: list[bytes] = []

    async def helo_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 old.example.com SMTP\r\n")
        while line := await reader.readline():
            lines.append(line)
            verb = line[:4].upper()
            if verb == b"DATA":
                writer.write(b"354 go\r\n")
                while await reader.readline() != b".\r\n":
                    pass
                writer.write(b"250 queued\r\n")
            else:
                writer.write(b"502 no\r\n" if verb == b"EHLO" else b"250 ok\r\n")
        writer.close()

    async with tcp_server(helo_only) as port:
        receipt = await connect(port, helo_name=CLIENT).deliver(message(BOB, CAROL), Handover())
    assert receipt.accepted == (BOB, CAROL)
    assert lines[:6] == [
        f"EHLO {CLIENT}\r\n".encode(),
        f"HELO {CLIENT}\r\n".encode(),
        f"MAIL FROM:<{SENDER}>\r\n".encode(),
        f"RCPT TO:<{BOB}>\r\n".encode(),
        f"RCPT TO:<{CAROL}>\r\n".encode(),
        b"DATA\r\n",
    ]


@pytest.mark.parametrize(
    ("name", "qualified"),
    [
        ("mail.example.com", True),
        ("mail.example.com.", True),
        ("localhost", False),
        ("LOCALHOST.localdomain", False),
        ("localhost.example.com", False),
        ("3f2a9c1b7d0e", False),
    ],
)
def test_a_fully_qualified_name_is_dotted_and_not_the_loopbacks(name: str, qualified: bool) -> None:
    assert is_fully_qualified(name) is qualified


async def test_lines_that_start_with_a_dot_arrive_as_they_were(
    smtp: SmtpServer, connect: Connect
) -> None:
    body = b"Hello\r\n.\r\n..two dots\r\n.one\r\nend"
    dotted = replace(message(), data=message().data.replace(b"Hello\r\n", body))
    await connect(smtp.port).deliver(dotted, Handover())
    [received] = smtp.messages()
    assert received.data.replace(b"\r\n", b"\n") == (dotted.data + b"\r\n").replace(b"\r\n", b"\n")


async def greet_then_hang_up_idle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Takes one message, then says 421 unasked (an idle timeout) and keeps the connection."""
    writer.write(b"220 idle.example.com ESMTP\r\n")
    while line := await reader.readline():
        verb = line[:4].upper()
        if verb == b"EHLO":
            writer.write(b"250-idle.example.com\r\n250 PIPELINING\r\n")
        elif verb in {b"MAIL", b"RCPT"}:
            writer.write(b"250 ok\r\n")
        elif verb == b"DATA":
            writer.write(b"354 go\r\n")
            while await reader.readline() != b".\r\n":
                pass
            writer.write(b"250 queued\r\n421 4.4.2 idle for too long\r\n")
    writer.close()


async def test_a_connection_that_spoke_unasked_is_not_used_again(connect: Connect) -> None:
    """Replies nobody asked for would be read as the next message's: that connection goes."""
    async with tcp_server(greet_then_hang_up_idle) as port:
        transport = connect(port)
        await transport.deliver(message(number=1), Handover())
        await asyncio.sleep(0.1)
        receipt = await transport.deliver(message(number=2), Handover())
    assert receipt.reply == "250 queued"
