"""The event log: every change writes an event in the same transaction as the change, and
each event becomes a webhook delivery for every active subscription that wants it."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.db import WEBHOOKS_QUEUED
from postroom.errors import NotFound, ValidationFailed
from postroom.events import repository
from postroom.events.filters import matches
from postroom.events.repository import EventFilter, Position, Subscriber
from postroom.events.schemas import render_event
from postroom.kit.datetimes import utcnow
from postroom.kit.ids import new_id
from postroom.models import Event
from postroom.users.auth import Caller

DELETED = "deleted"


@dataclass(frozen=True)
class Origin:
    """Who caused a change: an API request, or Postroom itself (user and request unknown)."""

    organization_id: str
    user_id: str | None = None
    api_key_id: str | None = None
    request_id: str | None = None
    request_method: str | None = None
    request_path: str | None = None

    @classmethod
    def of(cls, caller: Caller) -> Origin:
        return cls(
            organization_id=caller.organization_id,
            user_id=caller.user_id,
            api_key_id=caller.api_key_id,
            request_id=caller.request_id,
            request_method=caller.request_method,
            request_path=caller.request_path,
        )


@dataclass(frozen=True)
class Change:
    object_type: str
    action: str
    object_id: str
    lead_id: str | None
    data: dict[str, Any] | None
    previous: dict[str, Any] | None = None


def changed_fields(change: Change) -> list[str]:
    """Every field whose value changed, ``date_updated`` and ``updated_by`` included, as in
    Close's example payload (``changed_fields: ["confidence", "date_updated", ...]``)."""
    if change.previous is None or change.data is None:
        return []
    names = set(change.data) | set(change.previous)
    return sorted(name for name in names if change.data.get(name) != change.previous.get(name))


def wants(subscription: Subscriber, event: dict[str, Any]) -> bool:
    """Whether ``subscription`` takes ``event`` (a row of ``events``): one of its events names
    the event's object type and action, and the event, as a webhook delivers it, matches that
    event's ``extra_filter`` and the subscription's ``event_filter`` (``events.filters``)."""
    kinds = [
        item
        for item in subscription.events
        if item.get("object_type") == event["object_type"] and item.get("action") == event["action"]
    ]
    filters = [item.get("extra_filter") for item in kinds]
    if not kinds or (subscription.event_filter is None and not any(filters)):
        return bool(kinds)
    delivered = render_event(event)
    return matches(subscription.event_filter, delivered) and any(
        matches(extra, delivered) for extra in filters
    )


async def record(session: AsyncSession, origin: Origin, change: Change) -> None:
    """Write the event of ``change`` and queue its webhook deliveries (same transaction)."""
    await record_many(session, [(origin, change)])


async def record_many(session: AsyncSession, changes: list[tuple[Origin, Change]]) -> None:
    """Write the events of ``changes`` in one statement and queue their webhook deliveries,
    looking subscriptions up once per organization.

    Events are plain rows (SQLAlchemy Core), not ORM objects: nothing reads an event back in
    the transaction that wrote it, and building and flushing ORM objects was most of the cost
    of the dispatcher's ``sent`` events. Each event is a microsecond later than the one before
    it, so the log keeps the order of ``changes`` (ids alone order events of the same moment
    at random).
    """
    now = utcnow()
    events: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    for index, (origin, change) in enumerate(changes):
        subscriptions = await repository.active_subscriptions(session, origin.organization_id)
        event = event_row(origin, change, now + timedelta(microseconds=index))
        events.append(event)
        deliveries.extend(
            repository.delivery_row(event, subscription)
            for subscription in subscriptions
            if wants(subscription, event)
        )
    await repository.insert_events(session, events, deliveries)
    if deliveries:
        # Wakes the local webhook sender on commit; senders in other processes find the
        # deliveries within their poll interval.
        session.info[WEBHOOKS_QUEUED] = True


def event_row(origin: Origin, change: Change, now: datetime) -> dict[str, Any]:
    """The event's row. A ``deleted`` event is shaped as Close documents it: ``data`` is
    ``null`` and ``previous_data`` holds the object as the API showed it last (Close's own
    scripts restore deleted objects from it)."""
    fields = changed_fields(change)
    if change.action == DELETED:
        data, previous = None, change.data
    else:
        data = change.data
        previous = {name: (change.previous or {}).get(name) for name in fields} or None
    return {
        "id": new_id("ev"),
        "organization_id": origin.organization_id,
        "user_id": origin.user_id,
        "request_id": origin.request_id,
        "api_key_id": origin.api_key_id,
        "object_type": change.object_type,
        "object_id": change.object_id,
        "lead_id": change.lead_id,
        "action": change.action,
        "changed_fields": fields,
        "data": data,
        "previous_data": previous,
        "meta": {"request_method": origin.request_method, "request_path": origin.request_path},
        "created_at": now,
        "updated_at": now,
    }


def encode_cursor(position: Position) -> str:
    raw = json.dumps([position.created_at.isoformat(), position.event_id, position.newer])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


_EVENT_ID = re.compile(r"ev_[0-9A-Za-z]{1,64}")
"""The shape of the event ids ``new_id("ev")`` makes (43 base-62 digits), with room."""


def decode_cursor(cursor: str) -> Position:
    """The position ``encode_cursor`` wrote; anything else is a 400 on ``_cursor``. A cursor is
    the client's text, not signed: each part must have the type and shape the server writes
    (an event id with a lone surrogate in it reached the driver, which could not encode it:
    a 500)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, event_id, newer = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(created_at, str) or not isinstance(newer, bool):
            raise TypeError(created_at, newer)
        if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
            raise ValueError(event_id)
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None:  # every cursor handed out carries +00:00
            raise ValueError(created_at)
        return Position(moment, event_id, newer)
    except (ValueError, TypeError, binascii.Error) as error:
        raise ValidationFailed.field("_cursor", "Not a cursor this server handed out.") from error


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    cursor_next: str | None
    cursor_previous: str | None


async def list_events(
    session: AsyncSession, caller: Caller, where: EventFilter, cursor: str | None, limit: int
) -> EventPage:
    position = decode_cursor(cursor) if cursor else None
    found = await repository.list_events(
        session, caller.organization_id, where, position, limit + 1
    )
    newer = position is not None and position.newer
    more = len(found) > limit
    events = (found[1:] if newer else found[:limit]) if more else found
    return EventPage(events, *_cursors(events, position, more))


def _cursors(
    events: list[Event], position: Position | None, more: bool
) -> tuple[str | None, str | None]:
    if not events:
        return None, None
    first, last = events[0], events[-1]
    newer = position is not None and position.newer
    older_exist = more if not newer else True
    newer_exist = (position is not None) if not newer else more
    next_cursor = encode_cursor(Position(last.created_at, last.id, False)) if older_exist else None
    previous = encode_cursor(Position(first.created_at, first.id, True)) if newer_exist else None
    return next_cursor, previous


async def get_event(session: AsyncSession, caller: Caller, event_id: str) -> Event:
    event = await repository.get_event(session, caller.organization_id, event_id)
    if event is None:
        raise NotFound("Event")
    return event


async def remove_old_events(
    session: AsyncSession, keep: timedelta, now: datetime, batch: int = 1000
) -> int:
    """Delete up to ``batch`` events older than ``keep``; return how many."""
    return await repository.delete_events_before(session, now - keep, batch)
