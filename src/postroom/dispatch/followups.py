"""Follow-ups: a sent email whose ``followup_date`` has come and whose thread has no reply
gets its ``email_followup`` task. The dispatcher creates them in a round once the earliest is
due; ``dispatch.repository.claim_due_followups`` hands each email out once, whatever the
number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.dispatch import repository as repo
from postroom.tasks.service import followup_came_due

PUT_OFF_AFTER_FAILURE = timedelta(minutes=1)
"""How long follow-ups wait after a round that could not create them (emails go on)."""


@dataclass
class FollowupTimer:
    """When the dispatcher next creates follow-ups: once the earliest pending one is due (as
    the last claim read it; None: none pending), but not before a failed round's put-off
    ended, so that follow-ups that cannot be created cost a try a minute, not every round."""

    next_due: datetime | None
    put_off_until: datetime

    def is_due(self, now: datetime) -> bool:
        return self.next_due is not None and now >= max(self.next_due, self.put_off_until)

    def put_off(self, now: datetime) -> None:
        self.put_off_until = now + PUT_OFF_AFTER_FAILURE

    def wake_at(self) -> datetime | None:
        """The moment the dispatcher wakes for follow-ups, if any is pending."""
        return None if self.next_due is None else max(self.next_due, self.put_off_until)


async def create_due_followups(session: AsyncSession, now: datetime, limit: int) -> int:
    """Create the follow-up task of every sent email whose ``followup_date`` has come and
    whose thread has no reply (``limit`` emails at most); return how many emails were due."""
    due = await repo.claim_due_followups(session, now, limit)
    for email in due:
        if not email.has_reply and email.thread_id is not None:
            await followup_came_due(session, email, now)
    return len(due)
