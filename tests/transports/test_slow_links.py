"""A big message on a slow link is delivered: the SMTP timeout bounds a silent server, not the
time the message data takes to cross the link (RFC 5321 4.5.3.2 times each send of the data,
then the reply to its final dot).

The server below reads the message data at a few MB a second through a small receive buffer,
so a message of tens of MB takes several timeouts to arrive while data keeps moving.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from postroom.transports import ConnectionFailed, OutgoingMessage
from postroom.transports.smtp import SmtpSettings, SmtpTransport

SENDER = "jane@sender.example.com"
BOB = "bob@buyer.example.com"
LINE = b"x" * 76 + b"\r\n"
MESSAGE_BYTES = 40_000_000
TIMEOUT = 2.0
READ_BYTES = 65536
READ_PAUSE = 0.005
"""At most 64 KB each 5 ms: about 13 MB/s at best, so the message takes about 3 s or more,
and the client's socket buffer (4 MB at most) empties well within the timeout."""


class SlowReader:
    """A small SMTP server that reads message data slowly and remembers its size; with
    ``hang_up_after``, it closes the connection once it has read that many bytes of it."""

    def __init__(self, hang_up_after: int | None = None) -> None:
        self.received: list[int] = []
        self.hang_up_after = hang_up_after

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 slow.example.com ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb in {b"EHLO", b"HELO"}:
                writer.write(b"250-slow.example.com\r\n250 PIPELINING\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                self.received.append(await _read_data(reader, self.hang_up_after))
                if self.hang_up_after is not None:
                    break
                writer.write(b"250 accepted\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 OK\r\n")
        writer.close()


async def _read_data(reader: asyncio.StreamReader, limit: int | None = None) -> int:
    size, tail = 0, b""
    while not tail.endswith(b"\r\n.\r\n") and (limit is None or size < limit):
        chunk = await reader.read(READ_BYTES)
        if not chunk:
            break
        size, tail = size + len(chunk), (tail + chunk)[-5:]
        await asyncio.sleep(READ_PAUSE)
    return size


@asynccontextmanager
async def slow_server(server: SlowReader) -> AsyncIterator[int]:
    """Listens on loopback with a small receive buffer (no autotuning); yields the port."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, READ_BYTES)
    listener.bind(("127.0.0.1", 0))
    running = await asyncio.start_server(server.session, sock=listener)
    try:
        yield int(listener.getsockname()[1])
    finally:
        running.close()
        await running.wait_closed()


def big_message() -> OutgoingMessage:
    head = f"From: {SENDER}\r\nTo: {BOB}\r\nSubject: Big\r\n\r\n".encode()
    data = head + LINE * (MESSAGE_BYTES // len(LINE))
    return OutgoingMessage("acti_big", SENDER, (BOB,), data, message_id="<big@sender.example.com>")


async def no_check() -> None:
    return None


async def test_a_message_slower_to_transfer_than_the_timeout_is_delivered() -> None:
    server = SlowReader()
    async with slow_server(server) as port:
        transport = SmtpTransport(SmtpSettings("127.0.0.1", port, timeout=TIMEOUT))
        try:
            receipt = await transport.deliver(big_message(), no_check)
        finally:
            await transport.close()
    assert receipt.accepted == (BOB,)
    assert receipt.reply.startswith("250")
    assert len(server.received) == 1
    assert server.received[0] > MESSAGE_BYTES


async def test_a_connection_lost_before_the_end_of_the_data_is_retried_not_unknown() -> None:
    """The server cannot accept a message whose final dot it never got: this is not the sync
    gap, and the message is retried rather than left in ``error`` as ``DeliveryUnknown``."""
    server = SlowReader(hang_up_after=2_000_000)
    async with slow_server(server) as port:
        transport = SmtpTransport(SmtpSettings("127.0.0.1", port, timeout=TIMEOUT))
        try:
            with pytest.raises(ConnectionFailed):
                await transport.deliver(big_message(), no_check)
        finally:
            await transport.close()
    assert server.received[0] < MESSAGE_BYTES
