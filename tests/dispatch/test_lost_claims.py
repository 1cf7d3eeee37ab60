"""An outcome is written only for an email the worker still holds.

When a worker's lease expires while it is still busy with an email (a slow connection, say),
another worker may take the email over. The first worker's outcome must then change nothing:
neither the row, which is the other worker's now, nor the event log.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from postroom.db import Database
from postroom.dispatch import outcomes
from postroom.dispatch import repository as repo
from postroom.dispatch.dispatcher import store_outcomes
from postroom.kit.datetimes import utcnow
from postroom.models import EmailActivity, Event
from postroom.transports import DeliveryReceipt
from tests.dispatch.workers import queue_outbox_emails

FIRST = "worker-first"
SECOND = "worker-second"


async def test_the_outcome_of_an_email_taken_over_is_not_written(
    database_url: str, tmp_path: Path
) -> None:
    kept_id, lost_id = await queue_outbox_emails(database_url, tmp_path, 2)
    database = Database(database_url)
    try:
        now = utcnow()
        claimed = await database.run(
            lambda session: repo.claim_due(session, FIRST, now, now + timedelta(minutes=5), 2)
        )
        async with database.transaction() as session:  # the second worker takes one over
            await session.execute(
                update(EmailActivity).where(EmailActivity.id == lost_id).values(claimed_by=SECOND)
            )
        receipt = DeliveryReceipt(accepted=("bob@buyer.example.com",), reply="250 ok")
        results = [outcomes.sent(email, receipt, utcnow()) for email in claimed]
        stored = await database.run(lambda session: store_outcomes(session, FIRST, results))
        async with database.transaction() as session:
            rows = {
                email.id: email
                for email in (await session.execute(select(EmailActivity))).scalars()
            }
            ours = Event.object_id.in_([kept_id, lost_id])  # the database is shared
            events = (
                await session.execute(select(Event.object_id, Event.action).where(ours))
            ).all()
    finally:
        await database.dispose()
    assert stored == [kept_id]
    assert (rows[kept_id].status, rows[kept_id].claimed_by) == ("sent", None)
    assert (rows[lost_id].status, rows[lost_id].claimed_by) == ("outbox", SECOND)
    outcome_events = [(object_id, action) for object_id, action in events if action != "created"]
    assert outcome_events == [(kept_id, "sent")]
