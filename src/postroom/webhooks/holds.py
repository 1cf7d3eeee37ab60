"""Subscriptions a sender holds back: those whose last attempt got no answer (a timeout or a
connection error), until that delivery's retry time, so a receiver that never answers costs
one timeout per retry interval rather than one for each of its pending deliveries.

Holds are the sender's own, in memory: another worker does not see them, and a restart
forgets them. Either way deliveries are only sent sooner, never lost.
"""

from __future__ import annotations

from datetime import datetime


class Holds:
    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}

    def hold(self, subscription_id: str, until: datetime) -> None:
        """Hold back ``subscription_id`` until ``until`` (or later, if already held longer)."""
        self._until[subscription_id] = max(until, self._until.get(subscription_id, until))

    def release(self, subscription_id: str) -> None:
        """It answered after all: let its deliveries go."""
        self._until.pop(subscription_id, None)

    def held(self, now: datetime) -> set[str]:
        """The subscriptions still held at ``now`` (forgetting the others)."""
        self._until = {key: until for key, until in self._until.items() if until > now}
        return set(self._until)

    def next_release(self) -> datetime | None:
        return min(self._until.values(), default=None)
