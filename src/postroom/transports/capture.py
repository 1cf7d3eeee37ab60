"""Writes each message as a ``.eml`` file into a Maildir: a first run visibly "sends"."""

from __future__ import annotations

import asyncio
import mailbox
from pathlib import Path

from postroom.transports.base import (
    BeforeData,
    DeliveryReceipt,
    OutgoingMessage,
    TransientDeliveryError,
)


class CaptureTransport:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._maildir: mailbox.Maildir | None = None

    async def deliver(self, message: OutgoingMessage, before_data: BeforeData) -> DeliveryReceipt:
        try:
            maildir = self._open()
        except OSError as error:
            raise TransientDeliveryError(f"cannot open the Maildir: {error}") from error
        await before_data()
        try:
            key = await asyncio.to_thread(maildir.add, message.data)
        except OSError as error:
            raise TransientDeliveryError(f"cannot write to the Maildir: {error}") from error
        return DeliveryReceipt(accepted=message.recipients, reply=f"250 stored as {key}")

    def _open(self) -> mailbox.Maildir:
        if self._maildir is None:
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            self._maildir = mailbox.Maildir(self.folder, create=True)
        return self._maildir

    async def close(self) -> None:
        self._maildir = None
