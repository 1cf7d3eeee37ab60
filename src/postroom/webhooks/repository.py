"""Every SQL statement about webhook subscriptions and the delivery queue.

The queue is the ``webhook_deliveries`` table, claimed like emails: one conditional UPDATE per
batch (PostgreSQL: the ids come from a ``FOR UPDATE SKIP LOCKED`` subquery; SQLite: the single
writer's ``BEGIN IMMEDIATE`` makes the UPDATE ... RETURNING atomic). A pending delivery whose
lease expired is simply due again. A 2xx is recorded whoever holds the claim, so a delivery
acknowledged once is never claimed again; any other outcome is only written by the holder.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Table,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from postroom.kit.sql import affected_rows, for_change
from postroom.models import Event, Organization, WebhookDelivery, WebhookSubscription

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
ACTIVE = "active"
PAUSED = "paused"
TABLE = Table("webhook_deliveries", WebhookDelivery.metadata)

# -- subscriptions ---------------------------------------------------------------------------


async def lock_organization(session: AsyncSession, organization_id: str) -> None:
    """Serialize subscription creation per organization (PostgreSQL; SQLite has one writer).

    ``FOR NO KEY UPDATE`` does not block inserts that merely reference the organization.
    """
    statement = (
        select(Organization.id)
        .where(Organization.id == organization_id)
        .with_for_update(key_share=True)
    )
    await session.execute(statement)


async def count_subscriptions(session: AsyncSession, organization_id: str) -> int:
    statement = select(func.count()).where(WebhookSubscription.organization_id == organization_id)
    return int((await session.execute(statement)).scalar_one())


async def list_subscriptions(
    session: AsyncSession, organization_id: str, skip: int, limit: int
) -> Sequence[WebhookSubscription]:
    statement = (
        select(WebhookSubscription)
        .where(WebhookSubscription.organization_id == organization_id)
        .order_by(WebhookSubscription.created_at.desc(), WebhookSubscription.id.desc())
        .offset(skip)
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


async def get_subscription(
    session: AsyncSession, organization_id: str, subscription_id: str, locked: bool = False
) -> WebhookSubscription | None:
    """The subscription; ``locked``: for a change (``kit.sql.for_change``)."""
    statement = select(WebhookSubscription).where(
        WebhookSubscription.id == subscription_id,
        WebhookSubscription.organization_id == organization_id,
    )
    return (await session.execute(for_change(statement, locked))).scalar_one_or_none()


async def delete_subscription(session: AsyncSession, subscription_id: str) -> None:
    """Remove the subscription; its deliveries go with it (``ON DELETE CASCADE``)."""
    await session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    )
    await session.execute(
        delete(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    )


def add(session: AsyncSession, subscription: WebhookSubscription) -> None:
    session.add(subscription)


# -- claiming --------------------------------------------------------------------------------


def _claimable(delivery: type[WebhookDelivery], now: datetime) -> list[ColumnElement[bool]]:
    """Pending, due, and not held by a live claim."""
    return [
        delivery.status == PENDING,
        delivery.due_at <= now,
        or_(delivery.claimed_by.is_(None), delivery.lease_expires_at < now),
    ]


def _with_room(
    now: datetime, per_subscription: int, held: Collection[str]
) -> list[ColumnElement[bool]]:
    """Active subscriptions, not ``held``, with fewer than ``per_subscription`` live claims,
    any worker's, read from the partial ``ix_webhook_deliveries_claimed`` alone. ``status`` is
    not named: a claimed delivery is pending (every outcome releases its claim), and naming it
    made both engines read every pending delivery instead."""
    full = (
        select(WebhookDelivery.subscription_id)
        .where(WebhookDelivery.claimed_by.is_not(None), WebhookDelivery.lease_expires_at >= now)
        .group_by(WebhookDelivery.subscription_id)
        .having(func.count() >= per_subscription)
    )
    conditions = [WebhookSubscription.status == ACTIVE, WebhookSubscription.id.not_in(full)]
    if held:
        conditions.append(WebhookSubscription.id.not_in(list(held)))
    return conditions


def _first_of_each(
    head: type[WebhookDelivery], column: Any, conditions: list[ColumnElement[bool]]
) -> ScalarSelect[Any]:
    """``column`` of the earliest due ``head`` meeting ``conditions``, of the subscription of
    the enclosing query: one seek in ``ix_webhook_deliveries_subscription_due``."""
    first = (
        select(column)
        .where(head.subscription_id == WebhookSubscription.id, *conditions)
        .order_by(head.due_at)
        .limit(1)
    )
    return first.correlate(WebhookSubscription).scalar_subquery()


async def first_due_of_each(
    session: AsyncSession, now: datetime, limit: int, per_subscription: int, held: Collection[str]
) -> list[str]:
    """The ids of the earliest claimable delivery of each subscription with room, the ``limit``
    earliest of them: one seek per subscription, however long one subscription's backlog."""
    head = aliased(WebhookDelivery)
    claimable = _claimable(head, now)
    heads = (
        select(
            _first_of_each(head, head.id, claimable).label("id"),
            _first_of_each(head, head.due_at, claimable).label("due_at"),
        )
        .where(*_with_room(now, per_subscription, held))
        .subquery()
    )
    statement = (
        select(heads.c.id).where(heads.c.id.is_not(None)).order_by(heads.c.due_at).limit(limit)
    )
    return list((await session.execute(statement)).scalars().all())


async def claim_due(
    session: AsyncSession,
    worker_id: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    *,
    per_subscription: int = 1,
    held: Collection[str] = (),
) -> Sequence[WebhookDelivery]:
    """Claim up to ``limit`` due deliveries, at most one per subscription: the earliest due of
    each active subscription with room (``_with_room``), earliest first. A subscription's
    backlog, however old, never takes more than its room; the others' turn comes first.

    The heads are read first, then claimed by primary key: in one statement both engines
    walked every due delivery in ``due_at`` order, looking for heads among them."""
    heads = await first_due_of_each(session, now, limit, per_subscription, held)
    if not heads:
        return []
    statement = (
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(_still_claimable(session, heads, now)))
        .values(claimed_by=worker_id, claimed_at=now, lease_expires_at=lease_until)
        .returning(WebhookDelivery)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalars().all()


def _still_claimable(session: AsyncSession, heads: list[str], now: datetime) -> Any:
    """The ``heads`` just read that may still be claimed. PostgreSQL: those still claimable and
    not locked (``SKIP LOCKED``), as another worker may have claimed or settled one meanwhile.
    SQLite: all of them; its write transaction holds the one write lock from its ``BEGIN
    IMMEDIATE``, so they are as read (and naming ``status`` here made SQLite's planner walk
    every due delivery instead of finding the heads by primary key)."""
    if session.get_bind().dialect.name == "sqlite":
        return heads
    return (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.id.in_(heads), *_claimable(WebhookDelivery, now))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )


async def subscriptions_by_ids(
    session: AsyncSession, subscription_ids: Collection[str]
) -> dict[str, WebhookSubscription]:
    statement = select(WebhookSubscription).where(
        WebhookSubscription.id.in_(list(subscription_ids))
    )
    return {row.id: row for row in (await session.execute(statement)).scalars().all()}


async def events_by_ids(session: AsyncSession, event_ids: Collection[str]) -> dict[str, Event]:
    statement = select(Event).where(Event.id.in_(list(event_ids)))
    return {row.id: row for row in (await session.execute(statement)).scalars().all()}


async def next_due_at(
    session: AsyncSession, now: datetime, *, per_subscription: int = 1, held: Collection[str] = ()
) -> datetime | None:
    """The earliest due time of an unclaimed pending delivery of a subscription that has room
    (as ``claim_due`` reads it): a full or held subscription's backlog is no reason to wake."""
    head = aliased(WebhookDelivery)
    waiting = [head.status == PENDING, head.claimed_by.is_(None)]
    heads = (
        select(_first_of_each(head, head.due_at, waiting).label("due_at"))
        .where(*_with_room(now, per_subscription, held))
        .subquery()
    )
    earliest: datetime | None = (
        await session.execute(select(func.min(heads.c.due_at)))
    ).scalar_one_or_none()
    return earliest


async def renew_leases(
    session: AsyncSession, worker_id: str, delivery_ids: list[str], until: datetime
) -> int:
    """Extend the lease of the deliveries this worker is still sending (and only those).

    Rows locked meanwhile (their outcome is being written) are skipped, not waited for, so a
    renewal and an outcome write never deadlock on PostgreSQL.
    """
    if not delivery_ids:
        return 0
    held = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.claimed_by == worker_id, WebhookDelivery.id.in_(delivery_ids))
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(held.scalar_subquery()))
        .values(lease_expires_at=until)
    )
    return affected_rows(await session.execute(statement))


async def release_claims(session: AsyncSession, worker_id: str) -> int:
    """Give back whatever this worker still holds (graceful stop): due again at once."""
    statement = (
        update(WebhookDelivery)
        .where(WebhookDelivery.claimed_by == worker_id)
        .values(claimed_by=None, claimed_at=None, lease_expires_at=None)
    )
    return affected_rows(await session.execute(statement))


# -- outcomes --------------------------------------------------------------------------------

_RELEASED = {"claimed_by": None, "claimed_at": None, "lease_expires_at": None}
DELIVERED_COLUMNS = ("attempt_count", "last_status_code", "delivered_at", "updated_at")
RETRY_COLUMNS = ("status", "due_at", "attempt_count", "last_error", "last_status_code",
                 "updated_at")  # fmt: skip


async def _execute_many(session: AsyncSession, statement: Any, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    connection = await session.connection()
    in_id_order = sorted(rows, key=lambda row: str(row["id"]))
    bound = [{f"b_{name}": value for name, value in row.items()} for row in in_id_order]
    return affected_rows(await connection.execute(statement, bound))


async def write_delivered(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Record 2xx answers (``id`` plus ``DELIVERED_COLUMNS``) whoever holds the claim."""
    statement = (
        update(TABLE)
        .where(TABLE.c.id == bindparam("b_id"), TABLE.c.status == PENDING)
        .values(
            {
                **{name: bindparam(f"b_{name}") for name in DELIVERED_COLUMNS},
                "status": DELIVERED,
                "last_error": None,
                **_RELEASED,
            }
        )
    )
    return await _execute_many(session, statement, rows)


async def write_failures(session: AsyncSession, worker_id: str, rows: list[dict[str, Any]]) -> int:
    """Record retries and give-ups (``id`` plus ``RETRY_COLUMNS``) of claims still held."""
    statement = (
        update(TABLE)
        .where(
            TABLE.c.id == bindparam("b_id"),
            TABLE.c.claimed_by == worker_id,
            TABLE.c.status == PENDING,
        )
        .values({**{name: bindparam(f"b_{name}") for name in RETRY_COLUMNS}, **_RELEASED})
    )
    return await _execute_many(session, statement, rows)


async def mark_failing(session: AsyncSession, subscription_ids: set[str], now: datetime) -> None:
    """Start the failure clock of subscriptions that were not failing yet."""
    if subscription_ids:
        await session.execute(
            update(WebhookSubscription)
            .where(
                WebhookSubscription.id.in_(subscription_ids),
                WebhookSubscription.failing_since.is_(None),
            )
            .values(failing_since=now)
        )


async def clear_failing(session: AsyncSession, subscription_ids: set[str]) -> None:
    if subscription_ids:
        await session.execute(
            update(WebhookSubscription)
            .where(
                WebhookSubscription.id.in_(subscription_ids),
                WebhookSubscription.failing_since.is_not(None),
            )
            .values(failing_since=None)
        )


async def pause_failing(
    session: AsyncSession, subscription_ids: set[str], failing_before: datetime, now: datetime
) -> list[str]:
    """Pause active subscriptions failing since ``failing_before`` or earlier; their ids."""
    if not subscription_ids:
        return []
    statement = (
        update(WebhookSubscription)
        .where(
            WebhookSubscription.id.in_(subscription_ids),
            WebhookSubscription.status == ACTIVE,
            WebhookSubscription.failing_since <= failing_before,
        )
        .values(status=PAUSED, updated_at=now)
        .returning(WebhookSubscription.id)
    )
    return list((await session.execute(statement)).scalars().all())
