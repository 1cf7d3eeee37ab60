"""The server's side of one SMTP connection once Postroom has taken it over from aiosmtplib:
``ReplyReader`` parses the replies into a queue, in order, however many arrive in one packet,
and writes what the session sends, a large message in chunks as the link takes them (see
``transports.pipelining``, whose ``SmtpSession`` drives it)."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

MAX_REPLY_BYTES = 32768
"""A reply longer than this (a server streaming garbage) breaks the connection."""
DATA_CHUNK_BYTES = 262144
"""A message is written in chunks of this size, each once the previous ones have left: the
timeout then measures a silent server, not the time a big message takes on a slow link."""


@dataclass(frozen=True)
class Reply:
    code: int
    message: str

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    def __str__(self) -> str:
        return f"{self.code} {self.message}"


class ConnectionLost(Exception):
    """The server closed the connection, or sent something that is not an SMTP reply."""


class ReplyReader(asyncio.Protocol):
    """Parses the server's replies into a queue, in order; ``replies(n)`` waits for n."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._buffer = bytearray()
        self._lines: list[str] = []
        self._ready: deque[Reply] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._lost: str | None = None
        self._writable: asyncio.Future[None] | None = None
        """Unresolved while the transport's write buffer is full (``pause_writing``)."""

    @classmethod
    def take_over(cls, transport: asyncio.Transport) -> ReplyReader:
        reader = cls(transport)
        transport.set_protocol(reader)
        return reader

    @property
    def is_open(self) -> bool:
        return self._lost is None and not self.transport.is_closing()

    @property
    def is_quiet(self) -> bool:
        """Open, and nothing arrived that no command asked for (a server's 421 before it hangs
        up an idle connection, say): only such a connection may carry the next message, whose
        replies would otherwise be read one behind."""
        return self.is_open and not self._ready and not self._buffer and not self._lines

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            self._parse()
        except ConnectionLost as error:
            self._lose(str(error))
            self.transport.close()
        self._wake()

    def _parse(self) -> None:
        while (end := self._buffer.find(b"\n")) != -1:
            line = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            if not line[:3].isdigit():
                raise ConnectionLost(f"not an SMTP reply: {line[:80]!r}")
            self._lines.append(line[4:].strip(b" \t\r\n").decode("utf-8", "surrogateescape"))
            if line[3:4] != b"-":
                self._ready.append(Reply(int(line[:3]), "\n".join(self._lines)))
                self._lines = []
        if len(self._buffer) > MAX_REPLY_BYTES:
            raise ConnectionLost("a reply longer than 32 KB")

    def eof_received(self) -> bool:
        self._lose("the server closed the connection")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lose(f"connection lost: {exc!r}" if exc else "connection closed")

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._resume()

    def _resume(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    def _lose(self, reason: str) -> None:
        if self._lost is None:
            self._lost = reason
        self._resume()
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def replies(self, count: int, within: float) -> list[Reply]:
        """The next ``count`` replies; ``ConnectionLost`` if the connection ends first,
        ``TimeoutError`` if they take longer than ``within`` seconds (one timer for them all:
        ``asyncio.timeout`` cost more than the rest of reading them)."""
        loop = asyncio.get_running_loop()
        timer = None
        try:
            while len(self._ready) < count:
                if self._lost is not None:
                    raise ConnectionLost(self._lost)
                self._waiter = waiter = loop.create_future()
                if timer is None:
                    timer = loop.call_later(within, _expire, waiter)
                await waiter
        finally:
            if timer is not None:
                timer.cancel()
        return [self._ready.popleft() for _ in range(count)]

    def write(self, data: bytes | memoryview) -> None:
        if not self.is_open:
            raise ConnectionLost(self._lost or "connection closed")
        self.transport.write(data)

    async def write_all(self, data: bytes, within: float) -> None:
        """Write ``data`` chunk by chunk, each once the connection has room for it
        (``TimeoutError`` after ``within`` seconds without room). When this raises, the last
        chunk was not written."""
        view = memoryview(data)
        for start in range(0, len(view), DATA_CHUNK_BYTES):
            if self._writable is not None:
                await asyncio.wait_for(self._writable, within)
            self.write(view[start : start + DATA_CHUNK_BYTES])


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
