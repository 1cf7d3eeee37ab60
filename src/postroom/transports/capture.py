"""Writes each message as a ``.eml`` file into a Maildir: a first run visibly "sends"."""

from __future__ import annotations

import asyncio
import mailbox
from pathlib import Path

from postroom.transports.base import BeforeData, DeliveryReceipt, OutgoingMessage


class CaptureTransport:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._maildir: mailbox.Maildir | None = None

    async def deliver(self, message: OutgoingMessage, before_data: BeforeData) -> DeliveryReceipt:
        await before_data()
        key = await asyncio.to_thread(self._store, message.data)
        return DeliveryReceipt(accepted=message.recipients, reply=f"250 stored as {key}")

    def _store(self, data: bytes) -> str:
        if self._maildir is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._maildir = mailbox.Maildir(self.folder, create=True)
        return self._maildir.add(data)

    async def close(self) -> None:
        self._maildir = None
