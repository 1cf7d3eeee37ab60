"""Recovery of dead workers' claims: whatever a lease that expired left behind.

An email whose message data had not started to leave is released, to be claimed again at
once; one in the sync gap (its marker stored, its outcome not) may have been delivered, so it
is marked ``DeliveryUnknown`` rather than sent twice. See ``docs/delivery.md``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.db import Database
from postroom.dispatch import outcomes
from postroom.dispatch import repository as repo
from postroom.dispatch.storing import record_outcome_events


async def recover_expired_claims(database: Database, now: datetime) -> tuple[int, int]:
    """Release dead workers' unstarted claims; mark their started ones ``DeliveryUnknown``.

    Returns (released, marked unknown).
    """
    return await database.run(lambda session: _recover(session, now))


async def _recover(session: AsyncSession, now: datetime) -> tuple[int, int]:
    released = await repo.release_expired_unstarted(session, now)
    in_gap = await repo.expired_in_sync_gap(session, now)
    by_worker: dict[str, list[dict[str, Any]]] = {}
    stored = []
    for email in in_gap:
        outcome = outcomes.unknown_after_crash(email, now)
        by_worker.setdefault(email.claimed_by or "", []).append(outcome)
        held = dict(email._mapping)
        stored.append((held, repo.stored_outcome(held, outcome)))
    for worker_id, results in by_worker.items():
        await repo.write_outcomes(session, worker_id, results)
    await record_outcome_events(session, stored)
    if released:
        await repo.signal_due_change(session)
    return released, len(in_gap)
