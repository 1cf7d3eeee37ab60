"""Follow-ups: a sent email whose ``followup_date`` has come and whose thread has no reply
gets its ``email_followup`` task. The dispatcher creates them in a round once the earliest is
due; ``dispatch.repository.claim_due_followups`` hands each email out once, whatever the
number of workers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.dispatch import repository as repo
from postroom.tasks.service import followup_came_due


async def create_due_followups(session: AsyncSession, now: datetime, limit: int) -> int:
    """Create the follow-up task of every sent email whose ``followup_date`` has come and
    whose thread has no reply (``limit`` emails at most); return how many emails were due."""
    due = await repo.claim_due_followups(session, now, limit)
    for email in due:
        if not email.has_reply and email.thread_id is not None:
            await followup_came_due(session, email, now)
    return len(due)
