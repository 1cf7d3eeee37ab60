"""The dispatcher's per-group statements find their emails by primary key.

A worker holds thousands of claims at once. The sync-gap marker and the lease renewal name a
few of them by id and check that the worker still holds them; on SQLite that check once made
the planner search the lease index by worker instead, and read every row the worker held for
each group of markers, so the cost of a delivery grew with the size of the claim.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.db import Database
from postroom.dispatch import repository as repo
from postroom.dispatch.dispatcher import recover_expired_claims
from postroom.kit.datetimes import utcnow
from tests.databases import database_of_its_own
from tests.dispatch.workers import queue_outbox_emails
from tests.query_plans import Sent, one_statement, postgres_plan, sqlite_plan, statements_sent

WORKER = "worker-1"
PRIMARY_KEY_SEARCH = "USING INDEX sqlite_autoindex_email_activities_1 (id=?)"

Statement = Callable[[AsyncSession, list[str]], Awaitable[Any]]


async def mark(session: AsyncSession, email_ids: list[str]) -> Any:
    return await repo.mark_send_started(session, WORKER, email_ids, utcnow())


async def renew(session: AsyncSession, email_ids: list[str]) -> Any:
    return await repo.renew_leases(session, WORKER, email_ids, utcnow() + timedelta(minutes=5))


@pytest.mark.parametrize("statement", [mark, renew], ids=["sync-gap marker", "lease renewal"])
async def test_a_group_statement_finds_the_named_emails_by_primary_key(
    database_url: str, tmp_path: Path, statement: Statement
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's planner chooses by the table's statistics; SQLite's by rule")
    email_ids = await queue_outbox_emails(database_url, tmp_path, 40)
    database = Database(database_url)
    try:
        now = utcnow()
        await database.run(
            lambda session: repo.claim_due(session, WORKER, now, now + timedelta(minutes=5), 40)
        )
        sent = await statements_sent(
            database, lambda: database.run(lambda session: statement(session, email_ids[:8]))
        )
    finally:
        await database.dispose()
    details = sqlite_plan(database_url, one_statement(sent, "UPDATE email_activities"))
    assert any(PRIMARY_KEY_SEARCH in detail for detail in details), details
    assert not any("ix_email_activities_lease" in detail for detail in details), details


async def test_recovery_reads_only_the_lease_index_never_the_whole_table(
    database_url: str, tmp_path: Path
) -> None:
    """The look for expired leases runs every few seconds: it must not read every email (on
    500,000 emails, SQLite's full scan took 678 ms each time, holding the one connection)."""
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's planner chooses by the table's statistics; SQLite's by rule")
    await queue_outbox_emails(database_url, tmp_path, 10)
    database = Database(database_url)
    try:
        sent = await statements_sent(database, lambda: recover_expired_claims(database, utcnow()))
    finally:
        await database.dispose()
    looks = [item for item in sent if "lease_expires_at <" in item[0]]
    assert len(looks) == 2  # claims never started (released) and those in the sync gap
    for look in looks:
        details = sqlite_plan(database_url, look)
        assert not any(detail.startswith("SCAN") for detail in details), details
        assert any("USING INDEX ix_email_activities_lease" in detail for detail in details)


async def next_followup(session: AsyncSession) -> Any:
    return await repo.next_followup_at(session)


async def claim_followups(session: AsyncSession) -> Any:
    return await repo.claim_due_followups(session, utcnow(), 200)


@pytest.mark.parametrize(
    "statement", [next_followup, claim_followups], ids=["next follow-up", "follow-up claim"]
)
async def test_the_follow_up_looks_read_only_the_pending_follow_ups(
    database_url: str, tmp_path: Path, statement: Callable[[AsyncSession], Awaitable[Any]]
) -> None:
    """The dispatcher asks every second when the next follow-up is due, and claims the due
    ones. Most emails have no follow-up: read whole, 300,000 of them took PostgreSQL 125 ms
    on both cores, each time. Only the partial follow-up index may answer. (On a new database
    of its own: the claim marks due follow-ups handled, and on the shared delivery database
    the statistics other tests left made PostgreSQL plan by another index.)"""
    with database_of_its_own(database_url, tmp_path) as own_url:
        database = Database(own_url)
        try:
            sent = await statements_sent(database, lambda: database.run(statement))
            plan = await asyncio.to_thread(plan_of, own_url, sent)
        finally:
            await database.dispose()
    assert any("ix_email_activities_followup" in detail for detail in plan), plan


def plan_of(database_url: str, sent: list[Sent]) -> list[str]:
    """The plan of the follow-up look among ``sent``; no full read of the emails in it."""
    (look,) = [item for item in sent if "followup_at" in item[0]]
    if database_url.startswith("sqlite"):
        details = sqlite_plan(database_url, look)
        assert not any(detail.startswith("SCAN") for detail in details), details
        assert not any("ix_email_activities_due" in detail for detail in details), details
    else:
        details = postgres_plan(database_url, look)
        assert not any("Seq Scan" in detail for detail in details), details
    return details
