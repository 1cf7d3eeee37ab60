"""One SMTP connection's mail transactions, pipelined (RFC 2920) when the server offers it.

aiosmtplib opens the connection (TLS, STARTTLS, EHLO, AUTH) and is then relieved of it:
its protocol pairs every reply with one awaited command, so it cannot pipeline, and its four
round trips a message (MAIL, RCPT, DATA, the data) cost about 0.3 ms of CPU each time. Here
``ReplyReader`` (``transports.replies``) takes the connection over and collects replies in
order, however many arrive in one packet, and a transaction is two exchanges: ``MAIL FROM``,
every ``RCPT TO`` and ``DATA`` in one write, then the message data. Without PIPELINING the
commands go one by one. Recipients a server puts off because the transaction is full (452)
get the message in the next transaction, on the same connection.

The sync gap keeps its place: ``before_data`` runs once ``MAIL`` and a ``RCPT`` were accepted
and the server waits for the data (354), and never before; a failure before it is a
``TransientDeliveryError`` or ``PermanentDeliveryError``, one after it a ``DeliveryUnknown``,
except while the data is still being written: until its end (the final dot, in the last chunk)
is written the server cannot have accepted the message, so a lost connection or a server that
stops taking data is a ``ConnectionFailed`` or ``DeliveryTimeout``, retried.
"""

from __future__ import annotations

import re
from dataclasses import replace

from aiosmtplib.protocol import PERIOD_REGEX

from postroom.transports.base import (
    BeforeData,
    ConnectionFailed,
    DeliveryError,
    DeliveryReceipt,
    DeliveryTimeout,
    DeliveryUnknown,
    OutgoingMessage,
    PermanentRejection,
    TemporaryRejection,
    rejection,
)
from postroom.transports.replies import ConnectionLost, Reply, ReplyReader

CLOSING = 421
"""The server's reply when it is about to close the connection, to any command."""
START_INPUT = 354
NEEDS_SMTPUTF8 = "553 5.6.7 non-ASCII address, and the server does not offer SMTPUTF8"
UTF8_HEADERS_NEED_SMTPUTF8 = (
    "554 5.6.7 the message has UTF-8 in its headers (RFC 6532: an address or a Message-ID"
    " that is not ASCII), and the server does not offer SMTPUTF8"
)


class SmtpSession:
    """An open, greeted (and authenticated) connection that carries one message at a time."""

    def __init__(self, reader: ReplyReader, extensions: dict[str, str], timeout: float) -> None:
        self.reader = reader
        self.pipelining = "pipelining" in extensions
        self.smtputf8 = "smtputf8" in extensions
        self.max_size = _size_limit(extensions)
        self.timeout = timeout

    @property
    def is_reusable(self) -> bool:
        return self.reader.is_quiet

    def close(self) -> None:
        self.reader.transport.close()

    async def quit(self) -> None:
        """Say goodbye, wait (briefly) for the answer, and hang up."""
        try:
            await self._exchange([b"QUIT\r\n"])
        except (ConnectionLost, TimeoutError):
            pass
        finally:
            self.close()

    async def send(self, message: OutgoingMessage, before_data: BeforeData) -> DeliveryReceipt:
        """One mail transaction, and then one more for the recipients the server put off for
        want of room in it (452, RFC 5321 §4.5.3.1.10), as long as each takes some; raises a
        ``DeliveryError`` of the documented tree when the first transaction fails."""
        receipt = await self._transaction(message, before_data)
        later = _put_off(receipt)
        while later:
            receipt, later = await self._next_transaction(
                receipt, replace(message, recipients=later)
            )
        return receipt

    async def _transaction(
        self, message: OutgoingMessage, before_data: BeforeData
    ) -> DeliveryReceipt:
        mail, recipients, refused = self._envelope(message)
        commands = [mail, *(command for _, command in recipients)]
        accepted = await self._open_transaction(commands, recipients, refused)
        await before_data()
        reply = await self._send_data(message.data)
        return DeliveryReceipt(accepted=tuple(accepted), refused=refused, reply=str(reply))

    async def _next_transaction(
        self, receipt: DeliveryReceipt, message: OutgoingMessage
    ) -> tuple[DeliveryReceipt, tuple[str, ...]]:
        """``receipt`` with the outcome of the message sent again to the recipients put off,
        and those this transaction put off in turn. The others have the message already: a
        failure now refuses these recipients with it, and retires the connection."""
        refused = {r: reply for r, reply in receipt.refused.items() if r not in message.recipients}
        try:
            more = await self._transaction(message, _already_handed_over)
        except DeliveryError as error:
            self.close()
            failed = {
                r: error.refused.get(r) or f"{error.error_class}: {error}"
                for r in message.recipients
            }
            return replace(receipt, refused=refused | failed), ()
        combined = DeliveryReceipt(
            receipt.accepted + more.accepted, refused | more.refused, receipt.reply
        )
        return combined, _put_off(more)

    def _envelope(
        self, message: OutgoingMessage
    ) -> tuple[bytes, list[tuple[str, bytes]], dict[str, str]]:
        """The MAIL command and each recipient's RCPT command; recipients that cannot be
        written without SMTPUTF8 are refused here, and so is the whole message when its
        headers hold UTF-8 (a To or Cc address that is not ASCII): sent to the other
        recipients, it would reach them as 8-bit headers the server never agreed to carry."""
        addresses = (message.envelope_from, *message.recipients)
        utf8_data = not message.data.isascii()
        if utf8_data and not self.smtputf8:
            raise PermanentRejection(UTF8_HEADERS_NEED_SMTPUTF8)
        utf8 = self.smtputf8 and (utf8_data or not all(map(str.isascii, addresses)))
        options = self._size_option(len(message.data)) + (" SMTPUTF8" if utf8 else "")
        try:
            mail = _command("MAIL FROM:", message.envelope_from, options, utf8)
        except Unwritable as error:
            raise PermanentRejection(f"{error} (the sender)") from None
        recipients: list[tuple[str, bytes]] = []
        refused: dict[str, str] = {}
        for recipient in message.recipients:
            try:
                recipients.append((recipient, _command("RCPT TO:", recipient, "", utf8)))
            except Unwritable as error:
                refused[recipient] = str(error)
        if not recipients:
            raise _all_refused(refused)
        return mail, recipients, refused

    def _size_option(self, size: int) -> str:
        """``SIZE=`` for MAIL FROM when the server offers SIZE (RFC 1870); a message over its
        fixed limit is refused here, for good, before a command or a byte of it is sent."""
        if self.max_size is None:
            return ""
        if self.max_size and size > self.max_size:
            raise PermanentRejection(
                f"552 5.3.4 the message is {size} octets, over the server's limit of"
                f" {self.max_size} (its SIZE)"
            )
        return f" SIZE={size}"

    async def _open_transaction(
        self, commands: list[bytes], recipients: list[tuple[str, bytes]], refused: dict[str, str]
    ) -> list[str]:
        """MAIL, RCPT and DATA; returns the accepted recipients once the server waits for the
        data. Every failure here is before any data: safe to retry."""
        try:
            if self.pipelining:
                replies = await self._exchange([*commands, b"DATA\r\n"])
            else:
                replies = await self._one_by_one(commands)
        except TimeoutError:
            raise DeliveryTimeout("no reply to MAIL, RCPT or DATA in time") from None
        except ConnectionLost as error:
            raise ConnectionFailed(str(error)) from None
        return _accepted(replies, recipients, refused)

    async def _exchange(self, commands: list[bytes]) -> list[Reply]:
        self.reader.write(b"".join(commands))
        return await self.reader.replies(len(commands), self.timeout)

    async def _one_by_one(self, commands: list[bytes]) -> list[Reply]:
        """Without PIPELINING: stop after a refused MAIL, send DATA only after an accepted
        RCPT (the replies then look as if everything had been pipelined)."""
        [mail] = await self._exchange(commands[:1])
        if not mail.ok:
            return [mail]
        replies = [mail]
        for command in commands[1:]:
            replies += await self._exchange([command])
        if any(reply.ok for reply in replies[1:]):
            replies += await self._exchange([b"DATA\r\n"])
        return replies

    async def _send_data(self, data: bytes) -> Reply:
        payload = data_payload(data)
        try:
            await self.reader.write_all(payload, self.timeout)
        except TimeoutError:
            raise DeliveryTimeout("the server took no message data in time") from None
        except ConnectionLost as error:
            raise ConnectionFailed(f"{error}, during the message data") from None
        try:
            [reply] = await self.reader.replies(1, self.timeout)
        except TimeoutError:
            raise DeliveryUnknown("no reply after the message data in time") from None
        except ConnectionLost as error:
            raise DeliveryUnknown(f"no reply after the message data: {error}") from None
        if not reply.ok:
            raise rejection(reply.code, reply.message)
        return reply


TOO_MANY_RECIPIENTS = ("452 ", "452\n", "552 5.5.3 ")
"""A recipient's reply when the transaction holds as many as the server takes: the client
sends the message to them in another transaction (RFC 5321 §4.5.3.1.10, which asks to read
the older 552 so too; only with 5.5.3, "too many recipients", as 552 also means a full
mailbox)."""


def _put_off(receipt: DeliveryReceipt) -> tuple[str, ...]:
    refused = receipt.refused.items()
    return tuple(r for r, reply in refused if reply.startswith(TOO_MANY_RECIPIENTS))


async def _already_handed_over() -> None:
    """The ``before_data`` of the transactions after the first: the dispatcher's marker
    (the message data may have left) was written before the first one's data."""


class Unwritable(Exception):
    """An address that cannot go into a command; the message is the reply we give it."""


def data_payload(data: bytes) -> bytes:
    """The message as DATA sends it: dot-stuffed, then the final dot. ``data`` has CRLF line
    ends already (``OutgoingMessage``'s promise: normalizing them again cost about 25 us a
    message), so only the dot-stuffing is looked for."""
    if data.startswith(b".") or b"\n." in data:
        data = PERIOD_REGEX.sub(b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _size_limit(extensions: dict[str, str]) -> int | None:
    """The server's fixed message size limit from its SIZE keyword (0: none stated), or None
    when it does not offer SIZE."""
    if "size" not in extensions:
        return None
    value = extensions["size"].strip()
    return int(value) if value.isascii() and value.isdigit() else 0


def _command(verb: str, address: str, options: str, utf8: bool) -> bytes:
    if not (utf8 or address.isascii()):
        raise Unwritable(NEEDS_SMTPUTF8)
    if _CONTROL.search(address):
        raise Unwritable("553 5.1.3 an address with a control character")
    return f"{verb}<{address}>{options}\r\n".encode()


def _accepted(
    replies: list[Reply], recipients: list[tuple[str, bytes]], refused: dict[str, str]
) -> list[str]:
    """Read the replies to MAIL, each RCPT and DATA (the last one may be missing)."""
    mail, rest = replies[0], replies[1:]
    if not mail.ok:
        raise rejection(mail.code, mail.message)
    accepted = []
    for (recipient, _), reply in zip(recipients, rest, strict=False):
        if reply.code == CLOSING:
            raise TemporaryRejection(str(reply))
        if reply.ok:
            accepted.append(recipient)
        else:
            refused[recipient] = str(reply)
    if not accepted:
        raise _all_refused(refused)
    data = rest[len(recipients)]
    if data.code != START_INPUT:
        raise rejection(data.code, data.message)
    return accepted


def _all_refused(refused: dict[str, str]) -> DeliveryError:
    """Temporary when any refusal was a 4xx (a retry may reach that recipient), else permanent."""
    codes = [int(reply.split(" ", 1)[0]) for reply in refused.values()]
    code = max(codes) if codes else 550
    if any(400 <= c < 500 for c in codes):
        code = min(c for c in codes if 400 <= c < 500)
    replies = "; ".join(f"{recipient}: {reply}" for recipient, reply in refused.items())
    return rejection(code, f"every recipient was refused ({replies})", refused)
