"""Every SQL statement about events, and the fan-out of an event into webhook deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, bindparam, delete, insert, or_, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.kit import driver
from postroom.kit.driver import DriverColumns
from postroom.kit.ids import new_id
from postroom.kit.sql import affected_rows, kept, within_bounds
from postroom.models import Event, WebhookDelivery, WebhookSubscription

EVENTS = Table("events", Event.metadata)
DELIVERIES = Table("webhook_deliveries", WebhookDelivery.metadata)


@dataclass
class EventFilter:
    """Conditions of ``GET /event/``, all optional, combined with AND."""

    object_type: str | None = None
    object_id: str | None = None
    action: str | None = None
    lead_id: str | None = None
    user_id: str | None = None
    request_id: str | None = None
    updated_bounds: dict[str, datetime] = field(default_factory=dict)
    """``{"gt": ..., "lte": ...}`` of ``date_updated``."""


@dataclass(frozen=True)
class Position:
    """Where a cursor points: an event's (created_at, id), and which way to read."""

    created_at: datetime
    event_id: str
    newer: bool


def _conditions(organization_id: str, where: EventFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Event.organization_id == organization_id]
    for column, value in (
        (Event.object_type, where.object_type),
        (Event.object_id, where.object_id),
        (Event.action, where.action),
        (Event.lead_id, where.lead_id),
        (Event.user_id, where.user_id),
        (Event.request_id, where.request_id),
    ):
        if value is not None:
            conditions.append(column == value)
    conditions.extend(within_bounds(Event.updated_at, where.updated_bounds))
    return conditions


def _beyond(position: Position) -> ColumnElement[bool]:
    if position.newer:
        return or_(
            Event.created_at > position.created_at,
            and_(Event.created_at == position.created_at, Event.id > position.event_id),
        )
    return or_(
        Event.created_at < position.created_at,
        and_(Event.created_at == position.created_at, Event.id < position.event_id),
    )


async def list_events(
    session: AsyncSession,
    organization_id: str,
    where: EventFilter,
    position: Position | None,
    limit: int,
) -> list[Event]:
    """Up to ``limit`` events, newest first, after (or, ``newer``, before) ``position``."""
    conditions = _conditions(organization_id, where)
    newer = position is not None and position.newer
    if position is not None:
        conditions.append(_beyond(position))
    order = (Event.created_at.asc(), Event.id.asc()) if newer else (
        Event.created_at.desc(), Event.id.desc(),
    )  # fmt: skip
    statement = select(Event).where(*conditions).order_by(*order).limit(limit)
    events = list((await session.execute(statement)).scalars().all())
    return events[::-1] if newer else events


async def get_event(session: AsyncSession, organization_id: str, event_id: str) -> Event | None:
    statement = select(Event).where(Event.id == event_id, Event.organization_id == organization_id)
    return (await session.execute(statement)).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class Subscriber:
    """What recording an event needs of an active webhook subscription."""

    id: str
    events: list[dict[str, Any]]
    """The ``{"object_type": ..., "action": ...}`` pairs it wants, each with its
    ``extra_filter`` when it has one."""
    event_filter: dict[str, Any] | None
    """What every event it wants must match too, or None."""


ACTIVE_SUBSCRIBERS = select(
    WebhookSubscription.id, WebhookSubscription.events, WebhookSubscription.event_filter
).where(
    WebhookSubscription.organization_id == bindparam("organization_id"),
    WebhookSubscription.status == "active",
)
"""Built once: every change looks its organization's subscriptions up."""


async def active_subscriptions(session: AsyncSession, organization_id: str) -> list[Subscriber]:
    """Read as Core on the session's connection (no ORM objects: with none to load, the ORM
    query still cost about twice the Core one), and remembered for the rest of the
    transaction (subscriptions are never changed in one that records events)."""
    known: dict[str, list[Subscriber]] = session.info.setdefault("subscriptions", {})
    if organization_id not in known:
        connection = await session.connection()
        rows = await connection.execute(ACTIVE_SUBSCRIBERS, {"organization_id": organization_id})
        known[organization_id] = [Subscriber(*row) for row in rows]
    return known[organization_id]


def delivery_row(event: dict[str, Any], subscription: Subscriber) -> dict[str, Any]:
    """A pending webhook delivery of ``event`` (a row of ``events``) to ``subscription``."""
    return {
        "id": new_id("whdel"),
        "organization_id": event["organization_id"],
        "subscription_id": subscription.id,
        "event_id": event["id"],
        "status": "pending",
        "due_at": event["created_at"],
        "attempt_count": 0,
        "created_at": event["created_at"],
        "updated_at": event["created_at"],
    }


@cache
def _event_insert(dialect: Dialect) -> tuple[DriverColumns, str]:
    """Every column of ``events``, and the INSERT of one row of them (from constants only)."""
    columns = DriverColumns(dialect, list(EVENTS.c))
    values = driver.placeholders(dialect, len(columns.keys))
    return columns, f"INSERT INTO events ({columns.names}) VALUES ({values})"  # noqa: S608


async def insert_events(
    session: AsyncSession, events: list[dict[str, Any]], deliveries: list[dict[str, Any]]
) -> None:
    """Insert event rows (one executemany on the driver: every change writes one, and the
    dispatcher thousands a second), then their deliveries, which refer to them."""
    if events:
        columns, sql = _event_insert(session.get_bind().dialect)
        await driver.execute_many(session, sql, (columns.parameters(event) for event in events))
    if deliveries:
        standing = await kept_subscriptions(session, {row["subscription_id"] for row in deliveries})
        deliveries = [row for row in deliveries if row["subscription_id"] in standing]
    if deliveries:
        await session.execute(insert(DELIVERIES), deliveries)


async def kept_subscriptions(session: AsyncSession, subscription_ids: set[str]) -> set[str]:
    """The ids of ``subscription_ids`` that still exist, kept from deletion until the
    transaction ends (``kit.sql.kept``). The subscriptions were read earlier in the
    transaction; one whose deletion committed since (PostgreSQL) is left out, as a change made
    after the deletion would leave it. Its delivery met the foreign key: the change was a 500."""
    statement = select(WebhookSubscription.id).where(
        WebhookSubscription.id.in_(sorted(subscription_ids))
    )
    return set((await session.execute(kept(statement))).scalars().all())


async def delete_events_before(session: AsyncSession, moment: datetime, limit: int) -> int:
    """Delete up to ``limit`` of the events created before ``moment``, the oldest first (read
    in order from ``ix_events_created``); return how many went."""
    oldest = select(Event.id).where(Event.created_at < moment).order_by(Event.created_at)
    statement = (
        delete(Event)
        .where(Event.id.in_(oldest.limit(limit).scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    return affected_rows(await session.execute(statement))
