"""When to retry a transient failure: capped exponential backoff, then give up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from postroom.config import Settings


@dataclass(frozen=True)
class RetryPolicy:
    first_delay: float = 30.0
    max_delay: float = 3600.0
    give_up_after: float = 86400.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            first_delay=settings.retry_first_delay_seconds,
            max_delay=settings.retry_max_delay_seconds,
            give_up_after=settings.retry_give_up_after_seconds,
        )

    def delay(self, failures: int) -> float:
        """Seconds before the next attempt after ``failures`` failed ones (1, 2, ...)."""
        doublings = min(max(failures - 1, 0), 64)
        backoff: float = self.first_delay * 2.0**doublings
        return min(backoff, self.max_delay)

    def next_attempt(
        self, failures: int, first_failure: datetime, now: datetime
    ) -> datetime | None:
        """When to try again, or None when the email has been failing for too long."""
        when = now + timedelta(seconds=self.delay(failures))
        if when - first_failure > timedelta(seconds=self.give_up_after):
            return None
        return when
