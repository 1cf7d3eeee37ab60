"""The dispatcher's per-group statements find their emails by primary key.

A worker holds thousands of claims at once. The sync-gap marker, the lease renewal and the
outcome write name a few of them by id and check that the worker still holds them; on SQLite
that check once made the planner search the lease index by worker instead, and read every row
the worker held for each group of markers, so the cost of a delivery grew with the size of
the claim.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.db import Database
from postroom.dispatch import outcomes
from postroom.dispatch import repository as repo
from postroom.dispatch.recovery import recover_expired_claims
from postroom.emails.states import QUEUED
from postroom.kit.datetimes import utcnow
from postroom.models import EmailActivity
from postroom.models.email_activity import WAITING_SQL
from postroom.transports import DeliveryReceipt
from tests.databases import database_of_its_own
from tests.dispatch.workers import queue_outbox_emails
from tests.query_plans import Sent, one_statement, postgres_plan, sqlite_plan, statements_sent

WORKER = "worker-1"
PRIMARY_KEY_SEARCH = "USING INDEX sqlite_autoindex_email_activities_1 (id=?)"

Statement = Callable[[AsyncSession, list[str]], Awaitable[Any]]


async def mark(session: AsyncSession, email_ids: list[str]) -> Any:
    claimed = select(EmailActivity.id, EmailActivity.claimed_at).where(
        EmailActivity.id.in_(email_ids)
    )
    claims = [(email_id, at) for email_id, at in (await session.execute(claimed)).all()]
    return await repo.mark_send_started(session, WORKER, claims, utcnow())


async def renew(session: AsyncSession, email_ids: list[str]) -> Any:
    return await repo.renew_leases(session, WORKER, email_ids, utcnow() + timedelta(minutes=5))


async def store(session: AsyncSession, email_ids: list[str]) -> Any:
    now = utcnow()
    emails = await session.execute(select(EmailActivity).where(EmailActivity.id.in_(email_ids)))
    receipt = DeliveryReceipt(accepted=("bob@buyer.example.com",), reply="250 ok")
    results = [outcomes.sent(email, receipt, now) for email in emails.scalars()]
    return await repo.write_outcomes(session, WORKER, results)


@pytest.mark.parametrize(
    "statement", [mark, renew, store], ids=["sync-gap marker", "lease renewal", "outcomes"]
)
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


async def claim(session: AsyncSession) -> Any:
    now = utcnow()
    return await repo.claim_due(session, WORKER, now, now + timedelta(minutes=5), 10)


async def next_due(session: AsyncSession) -> Any:
    return await repo.next_due_at(session)


@pytest.mark.parametrize("statement", [claim, next_due], ids=["claim", "next due time"])
async def test_the_claim_reads_only_the_waiting_emails_in_due_order(
    database_url: str, tmp_path: Path, statement: Callable[[AsyncSession], Awaitable[Any]]
) -> None:
    """A worker holds thousands of claimed emails that are still queued, and the store holds
    every sent one: the claim and the look for the next due time must read the waiting index
    (queued, unclaimed, by due time), not all queued rows to sort them. PostgreSQL read and
    sorted every queued row for each claim of 500 in a burst: 177 ms a claim."""
    with database_of_its_own(database_url, tmp_path) as own_url:
        await queue_outbox_emails(own_url, tmp_path, 20)
        database = Database(own_url)
        try:
            await database.run(claim)  # ten claimed emails stay queued, as in a burst
            sent = await statements_sent(database, lambda: database.run(statement))
        finally:
            await database.dispose()
        (look,) = [item for item in sent if "due_at" in item[0]]
        if own_url.startswith("sqlite"):
            details = sqlite_plan(own_url, look)
            assert not any(detail.startswith("SCAN email_activities") for detail in details)
            assert not any("TEMP B-TREE" in detail for detail in details), details
        else:
            details = await asyncio.to_thread(postgres_plan, own_url, look)
    assert any("ix_email_activities_waiting" in detail for detail in details), details


def test_the_waiting_index_holds_exactly_the_queued_statuses() -> None:
    """Its condition is fixed text (SQLite matches a partial index by the query's very terms):
    it must name the statuses the state machine queues, no more, no fewer."""
    listed = re.search(r"status IN \(([^)]*)\)", WAITING_SQL)
    assert listed is not None
    statuses = {value.strip(" '") for value in listed.group(1).split(",")}
    assert statuses == {status.value for status in QUEUED}
    assert repo.QUEUED_VALUES == sorted(statuses)
