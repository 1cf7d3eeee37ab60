"""An outcome is written only for an email the worker still holds, and on that email only.

When a worker's lease expires while it is still busy with an email (a slow connection, say),
another worker may take the email over. The first worker's outcome must then change nothing:
neither the row, which is the other worker's now, nor the event log. And when the worker
itself claims the email again, its first claim's delivery must not send it too.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from postroom.app import build_dispatcher
from postroom.db import Database
from postroom.dispatch import outcomes
from postroom.dispatch import repository as repo
from postroom.dispatch.policy import RetryPolicy
from postroom.dispatch.recovery import recover_expired_claims
from postroom.dispatch.storing import store_outcomes
from postroom.kit.datetimes import utcnow
from postroom.models import EmailActivity, Event
from postroom.transports import DeliveryReceipt, PermanentRejection, TemporaryRejection
from postroom.transports.fakes import GatedTransport, MemoryTransport
from tests.dispatch.conftest import delivery_settings, empty_queue, eventually
from tests.dispatch.workers import load_emails, queue_outbox_emails, unfinished_count

FIRST = "worker-first"
SECOND = "worker-second"


async def test_the_outcome_of_an_email_taken_over_is_not_written(
    delivery_database_url: str, tmp_path: Path
) -> None:
    await empty_queue(delivery_database_url)  # the claim below takes the oldest due emails
    kept_id, lost_id = await queue_outbox_emails(delivery_database_url, tmp_path, 2)
    database = Database(delivery_database_url)
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


async def test_a_group_of_different_outcomes_lands_each_on_its_own_email(
    delivery_database_url: str, tmp_path: Path
) -> None:
    """One group commit stores a group's outcomes: a delivery, a retry and a permanent
    failure side by side each reach their own row, and each event shows the email as stored, with a
    change another writer made while the email was claimed (a reply noted in its thread)."""
    await empty_queue(delivery_database_url)
    email_ids = await queue_outbox_emails(delivery_database_url, tmp_path, 3)
    database = Database(delivery_database_url)
    try:
        now = utcnow()
        claimed = await database.run(
            lambda session: repo.claim_due(session, FIRST, now, now + timedelta(minutes=5), 3)
        )
        by_id = {email.id: email for email in claimed}
        delivered, retried, refused = (by_id[email_id] for email_id in email_ids)
        async with database.transaction() as session:
            await session.execute(
                update(EmailActivity).where(EmailActivity.id == refused.id).values(has_reply=True)
            )
        receipt = DeliveryReceipt(accepted=("bob@buyer.example.com",), reply="250 ok")
        policy = RetryPolicy()
        results = [
            outcomes.failed(refused, PermanentRejection("550 no such user"), now, policy),
            outcomes.sent(delivered, receipt, now),
            outcomes.failed(retried, TemporaryRejection("451 try later"), now, policy),
        ]
        stored = await database.run(lambda session: store_outcomes(session, FIRST, results))
        async with database.transaction() as session:
            rows = {
                email.id: email
                for email in (await session.execute(select(EmailActivity))).scalars()
                if email.id in email_ids
            }
            events = {
                event.object_id: event
                for event in (await session.execute(select(Event))).scalars()
                if event.object_id in email_ids and event.action != "created"
            }
    finally:
        await database.dispose()
    assert sorted(stored) == sorted(email_ids)
    assert [rows[email_id].status for email_id in email_ids] == ["sent", "outbox", "error"]
    assert [rows[email_id].attempt_count for email_id in email_ids] == [1, 1, 1]
    assert rows[delivered.id].sent_at is not None
    assert rows[delivered.id].due_at is None
    assert rows[retried.id].due_at == now + timedelta(seconds=policy.first_delay)
    assert rows[retried.id].sent_at is None
    assert rows[refused.id].due_at is None
    assert rows[refused.id].sent_at is None
    assert [rows[email_id].send_attempts[-1]["error_class"] for email_id in email_ids[1:]] == [
        "TemporaryRejection",
        "PermanentRejection",
    ]
    assert all(rows[email_id].claimed_by is None for email_id in email_ids)
    assert {email_id: events[email_id].action for email_id in email_ids} == {
        delivered.id: "sent",
        retried.id: "updated",
        refused.id: "updated",
    }
    for email_id in email_ids:
        data = events[email_id].data or {}
        assert data["status"] == rows[email_id].status
        assert data["has_reply"] is (email_id == refused.id)


async def test_an_outcome_written_again_does_not_land_on_a_later_claim_of_the_same_worker(
    delivery_database_url: str, tmp_path: Path
) -> None:
    """A retry outcome whose commit succeeded but whose answer was lost is written again (the
    database was briefly down). If the same worker has claimed the email again meanwhile for
    that retry, and is sending it, the late copy must change nothing: it would release the
    claim under the send, and the email, due again, would be sent twice."""
    await empty_queue(delivery_database_url)
    [email_id] = await queue_outbox_emails(delivery_database_url, tmp_path, 1)
    database = Database(delivery_database_url)
    try:
        now = utcnow()
        lease = now + timedelta(minutes=5)
        [first] = await database.run(lambda session: repo.claim_due(session, FIRST, now, lease, 1))
        retry = outcomes.failed(first, TemporaryRejection("451 try later"), now, RetryPolicy())
        assert await database.run(lambda s: store_outcomes(s, FIRST, [retry])) == [email_id]
        later = retry["due_at"] + timedelta(seconds=1)
        [again] = await database.run(
            lambda session: repo.claim_due(session, FIRST, later, later + timedelta(minutes=5), 1)
        )
        claim = (email_id, again.claimed_at)
        await database.run(lambda s: repo.mark_send_started(s, FIRST, [claim], later))
        stored = await database.run(lambda s: store_outcomes(s, FIRST, [retry]))
        async with database.transaction() as session:
            row = await session.get(EmailActivity, email_id)
            assert row is not None
            state = (row.status, row.claimed_by, row.claimed_at, row.send_started_at)
            recorded = len(row.send_attempts)
    finally:
        await database.dispose()
    assert again.id == email_id
    assert stored == []
    assert state == ("outbox", FIRST, again.claimed_at, later)
    assert recorded == 1


async def test_an_email_claimed_again_while_its_first_claim_waits_in_a_lane_is_sent_once(
    delivery_database_url: str, tmp_path: Path
) -> None:
    """A worker that renews no lease for longer than the lease (paused, or its database
    connection stalled) may find its emails released by another worker's recovery while
    they still wait in its lanes, and claim them again itself. Only the delivery of the new
    claim may send an email; the first claim's gives up at its sync-gap marker."""
    await empty_queue(delivery_database_url)
    email_ids = await queue_outbox_emails(delivery_database_url, tmp_path, 3)
    settings = delivery_settings(
        delivery_database_url, "capture://", tmp_path, dispatch_lease_seconds=0.2
    )
    memory = MemoryTransport()
    gate = GatedTransport(memory)
    database = Database(delivery_database_url)
    dispatcher = build_dispatcher(database, settings, gate)
    try:
        await dispatcher.dispatch_due()  # no housekeeping runs: no lease is renewed
        await asyncio.sleep(0.3)
        released, _unknown = await recover_expired_claims(database, utcnow())
        await dispatcher.dispatch_due()
        gate.opened.set()

        async def settled() -> bool:
            return await unfinished_count(database) == 0

        await eventually(settled)
        await dispatcher.drain()
    finally:
        await dispatcher.registry.close()
        await database.dispose()
    emails = {email.id: email for email in await load_emails(delivery_database_url)}
    assert released == len(email_ids)
    assert Counter(message.email_id for message in memory.sent) == Counter(email_ids)
    assert {emails[email_id].status for email_id in email_ids} == {"sent"}
