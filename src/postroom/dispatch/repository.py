"""Every SQL statement of the dispatcher: claim, lease, sync-gap marker, outcomes, recovery.

The claim is one conditional UPDATE per batch (PostgreSQL: the ids come from a
``FOR UPDATE SKIP LOCKED`` subquery; SQLite: the single writer's ``BEGIN IMMEDIATE`` makes the
UPDATE ... RETURNING atomic). Every later write names the worker and only touches rows it
still holds (``claimed_by = :worker``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, func, select, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.db import DUE_CHANGED
from postroom.emails.rendering import EmailColumns
from postroom.emails.states import QUEUED, EmailStatus
from postroom.kit import driver
from postroom.kit.datetimes import utcnow
from postroom.kit.driver import DriverColumns
from postroom.kit.sql import affected_rows
from postroom.models import EmailActivity
from postroom.models.email_activity import WAITING, WAITING_SQL

QUEUED_VALUES = sorted(status.value for status in QUEUED)
TABLE = Table("email_activities", EmailActivity.metadata)
DUE_CHANNEL = "postroom_due"
WAKE_HORIZON = timedelta(seconds=1)
"""A dispatcher looks at the queue again at least this often (``dispatch_poll_seconds`` is at
most 1 s), so only a due time sooner than this needs to wake it."""


def held_by(worker_id: str) -> ColumnElement[bool]:
    """``claimed_by = :worker`` for statements that also name the emails by id, written so that
    no index on ``claimed_by`` can serve it. SQLite otherwise searched the lease index by worker
    and read every row the worker held (thousands, in a big claim) to find the few ids named,
    for each group of sync-gap markers; this way the primary key finds the ids."""
    return func.coalesce(TABLE.c.claimed_by, "") == worker_id


def soon(moment: datetime | None) -> bool:
    return moment is not None and moment - utcnow() < WAKE_HORIZON


@dataclass(frozen=True)
class DeliveryStatements:
    """The SQL of every delivery's statements, for one dialect."""

    columns: DriverColumns
    """Every column of ``email_activities``."""
    outcome: DriverColumns
    claim_key: DriverColumns
    """``id`` and ``claimed_at``: which claim of which email (the marker's RETURNING)."""
    claim: str
    mark: str
    """``... id IN ({ids}) ... AND ({claims})``: formatted by ``marking``."""
    held: str
    write: str
    dialect: Dialect

    def ids(self, sql: str, count: int) -> str:
        return sql.format(ids=driver.placeholders(self.dialect, count))

    def marking(self, count: int) -> str:
        """The marker statement for ``count`` claims: each term names an email and the claim
        it must still be under (the ``id IN`` list is for the primary key search)."""
        mark = driver.placeholder(self.dialect)
        claims = " OR ".join([f"(id = {mark} AND claimed_at = {mark})"] * count)
        return self.mark.format(ids=driver.placeholders(self.dialect, count), claims=claims)


def _locked(dialect: Dialect, sql: str) -> str:
    """A SELECT whose rows stay locked until the transaction ends (SQLite's one writer holds
    the whole database already)."""
    return sql if dialect.name == "sqlite" else f"{sql} FOR UPDATE"


@cache
def delivery_statements(dialect: Dialect) -> DeliveryStatements:
    """Built from constants only (column names, placeholders): nothing a request sent."""
    columns = DriverColumns(dialect, list(TABLE.c))
    outcome = DriverColumns(dialect, [TABLE.c[name] for name in OUTCOME_COLUMNS])
    mark = driver.placeholder(dialect)
    due = (
        f"SELECT id FROM email_activities WHERE {WAITING_SQL}"  # noqa: S608
        f" AND due_at <= {mark} ORDER BY due_at LIMIT {mark}"
    )
    if dialect.name != "sqlite":
        due += " FOR UPDATE SKIP LOCKED"
    held = f"id IN ({{ids}}) AND COALESCE(claimed_by, '') = {mark}"
    claim_key = DriverColumns(dialect, [TABLE.c.id, TABLE.c.claimed_at])
    released = ", ".join(f"{name} = NULL" for name in RELEASED)
    return DeliveryStatements(
        columns=columns,
        outcome=outcome,
        claim_key=claim_key,
        claim=(
            f"UPDATE email_activities SET claimed_by = {mark}, claimed_at = {mark},"  # noqa: S608
            f" lease_expires_at = {mark} WHERE id IN ({due}) RETURNING {columns.names}"
        ),
        mark=(
            f"UPDATE email_activities SET send_started_at = {mark}"  # noqa: S608
            f" WHERE {held} AND ({{claims}}) RETURNING {claim_key.names}"
        ),
        held=_locked(
            dialect,
            f"SELECT {columns.names} FROM email_activities WHERE {held} ORDER BY id",  # noqa: S608
        ),
        write=(
            f"UPDATE email_activities SET {outcome.assignments}, {released}"  # noqa: S608
            f" WHERE id = {mark} AND claimed_by = {mark}"
        ),
        dialect=dialect,
    )


def _statements(session: AsyncSession) -> DeliveryStatements:
    bind = session.get_bind()
    return delivery_statements(bind.dialect)


async def claim_due(
    session: AsyncSession, worker_id: str, now: datetime, lease_until: datetime, limit: int
) -> list[EmailColumns]:
    """Claim up to ``limit`` due emails; returns their column values (the dispatcher only reads
    them: an ORM object cost about 0.1 ms to build, a SQLAlchemy row 0.03)."""
    sql = _statements(session)
    at, until = (sql.columns.parameter("claimed_at", moment) for moment in (now, lease_until))
    rows = await driver.execute(session, sql.claim, [worker_id, at, until, at, limit])
    return [EmailColumns(sql.columns.values(row)) for row in rows]


async def next_due_at(session: AsyncSession) -> datetime | None:
    """The waiting index's first entry."""
    statement = select(func.min(EmailActivity.due_at)).where(WAITING)
    return (await session.execute(statement)).scalar_one_or_none()


def _followup_pending() -> list[ColumnElement[bool]]:
    """Both terms of the follow-up index's condition, spelled as it is, so that both engines
    read the index (a handful of entries) and not the table."""
    return [EmailActivity.followup_done_at.is_(None), EmailActivity.followup_at.is_not(None)]


def _followup_due(now: datetime) -> list[ColumnElement[bool]]:
    return [
        *_followup_pending(),
        EmailActivity.followup_at <= now,
        EmailActivity.status == EmailStatus.SENT.value,
    ]


async def claim_due_followups(
    session: AsyncSession, now: datetime, limit: int
) -> Sequence[EmailActivity]:
    """Mark due follow-ups of sent emails as handled and return them (once, across workers)."""
    due_ids = (
        select(EmailActivity.id)
        .where(*_followup_due(now))
        .order_by(EmailActivity.followup_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(EmailActivity)
        .where(EmailActivity.id.in_(due_ids.scalar_subquery()))
        .values(followup_done_at=now)
        .returning(EmailActivity)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalars().all()


async def next_followup_at(session: AsyncSession) -> datetime | None:
    statement = select(func.min(EmailActivity.followup_at)).where(
        *_followup_pending(), EmailActivity.status == EmailStatus.SENT.value
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def renew_leases(
    session: AsyncSession, worker_id: str, email_ids: list[str], until: datetime
) -> int:
    """Extend the lease of the emails this worker is still delivering (and only those).
    Rows locked by an outcome write are skipped: they are being released anyway."""
    if not email_ids:
        return 0
    held = (
        select(EmailActivity.id)
        .where(EmailActivity.id.in_(email_ids), held_by(worker_id))
        .order_by(EmailActivity.id)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(EmailActivity)
        .where(EmailActivity.id.in_(held.scalar_subquery()))
        .values(lease_expires_at=until)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(await session.execute(statement))


async def still_held(
    session: AsyncSession, worker_id: str, email_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """The emails of ``email_ids`` this worker still holds, as they are stored now, locked (in
    id order) until the transaction ends, so that no other worker takes them over before the
    outcome is written."""
    sql = _statements(session)
    statement = sql.ids(sql.held, len(email_ids))
    rows = await driver.execute(session, statement, [*email_ids, worker_id])
    found = (sql.columns.values(row) for row in rows)
    return {values["id"]: values for values in found}


ClaimKey = tuple[str, datetime | None]
"""An email's id and the ``claimed_at`` of one claim of it."""


async def mark_send_started(
    session: AsyncSession, worker_id: str, claims: Sequence[ClaimKey], now: datetime
) -> set[ClaimKey]:
    """Record the sync-gap marker of emails this worker still holds under the claim named
    with each (not a claim of it released since, and claimed again: that claim's delivery
    sends it); return the claims marked."""
    sql = _statements(session)
    started = sql.columns.parameter("send_started_at", now)
    email_ids = [email_id for email_id, _ in claims]
    terms = [
        value
        for email_id, claimed_at in claims
        for value in (email_id, sql.claim_key.parameter("claimed_at", claimed_at))
    ]
    rows = await driver.execute(
        session, sql.marking(len(claims)), [started, *email_ids, worker_id, *terms]
    )
    keys = (sql.claim_key.values(row) for row in rows)
    return {(key["id"], key["claimed_at"]) for key in keys}


OUTCOME_COLUMNS = (
    "status", "due_at", "sent_at", "activity_at", "envelope", "send_attempts",
    "attempt_count", "need_smtp_credentials", "updated_at",
)  # fmt: skip
RELEASED = {
    "claimed_by": None,
    "claimed_at": None,
    "lease_expires_at": None,
    "send_started_at": None,
}
"""What storing an outcome also sets: the claim is given back."""


def stored_outcome(values: Mapping[str, Any], outcome: dict[str, Any]) -> dict[str, Any]:
    """The email as ``write_outcomes`` leaves it, from the values of the row it updates (read
    locked in the same transaction, so nothing else changed it meanwhile)."""
    return {**values, **outcome, **RELEASED}


async def write_outcomes(
    session: AsyncSession, worker_id: str, outcomes: list[dict[str, Any]]
) -> None:
    """Store final or retry states in one executemany (in id order); release the claims."""
    sql = _statements(session)
    ordered = sorted(outcomes, key=lambda outcome: str(outcome["id"]))
    rows = ([*sql.outcome.parameters(outcome), outcome["id"], worker_id] for outcome in ordered)
    await driver.execute_many(session, sql.write, rows)


async def release_unstarted(session: AsyncSession, worker_id: str) -> int:
    """Give back claims whose sending never started (graceful stop)."""
    statement = (
        update(EmailActivity)
        .where(EmailActivity.claimed_by == worker_id, EmailActivity.send_started_at.is_(None))
        .values(claimed_by=None, claimed_at=None, lease_expires_at=None)
    )
    return affected_rows(await session.execute(statement))


async def release_expired_unstarted(session: AsyncSession, now: datetime) -> int:
    """Claims of dead workers that never started sending: due again at once. Rows another
    transaction holds are skipped (a live worker is writing them), never waited for."""
    expired = (
        select(EmailActivity.id)
        .where(
            EmailActivity.claimed_by.is_not(None),
            EmailActivity.lease_expires_at < now,
            EmailActivity.send_started_at.is_(None),
        )
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(EmailActivity)
        .where(EmailActivity.id.in_(expired.scalar_subquery()))
        .values(claimed_by=None, claimed_at=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(await session.execute(statement))


async def expired_in_sync_gap(session: AsyncSession, now: datetime) -> Sequence[Row[Any]]:
    """Claims of dead workers that had started sending: the outcome is unknown."""
    statement = (
        select(TABLE)
        .where(
            TABLE.c.claimed_by.is_not(None),
            TABLE.c.lease_expires_at < now,
            TABLE.c.send_started_at.is_not(None),
        )
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(statement)).all()


async def signal_due_change(session: AsyncSession, *due_times: datetime | None) -> None:
    """Wake dispatchers after this transaction commits (locally, and on PostgreSQL by NOTIFY).

    Given the new due times of what changed, wake them only if one of these comes within
    ``WAKE_HORIZON``: anything later is found by their next look at the queue anyway.
    """
    if due_times and not any(soon(moment) for moment in due_times):
        return
    session.info[DUE_CHANGED] = True
    if session.info.get("due_notified"):
        return
    session.info["due_notified"] = True
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": DUE_CHANNEL})
