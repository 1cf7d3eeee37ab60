"""Webhook subscriptions as the API shows them, and their request bodies.

A subscription is ``{url, events: [{object_type, action, extra_filter}], event_filter,
verify_ssl, status}`` (the filters: ``events.filters``); the create response alone also carries
``signature_key``, which is stored encrypted and never shown again.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from postroom.events.catalog import unknown_event_problem
from postroom.events.filters import filter_problem
from postroom.kit.datetimes import format_datetime
from postroom.kit.schemas import Boolean, RequestModel
from postroom.kit.tenancy import PostedOrganization
from postroom.models import WebhookSubscription

MAX_URL = 2000
MAX_EVENTS = 500


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


def checked_filter(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A filter Postroom evaluates (``events.filters``), or None for none (``null``, ``{}``)."""
    problem = filter_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value or None


class SubscribedEvent(RequestModel):
    """One kind of event to deliver, one Postroom emits (``events.catalog``), with an optional
    ``extra_filter`` on those events; other keys are ignored."""

    object_type: str = Field(min_length=1, max_length=64)
    action: str = Field(min_length=1, max_length=32)
    extra_filter: dict[str, Any] | None = None

    _checked_filter = field_validator("extra_filter")(checked_filter)

    @model_validator(mode="after")
    def _emitted(self) -> SubscribedEvent:
        problem = unknown_event_problem(self.object_type, self.action)
        if problem is not None:
            raise ValueError(problem)
        return self


class SubscriptionFilter(RequestModel):
    """``event_filter``: a filter every delivered event must match too."""

    event_filter: dict[str, Any] | None = None

    _checked_filter = field_validator("event_filter")(checked_filter)


class WebhookCreate(SubscriptionFilter, PostedOrganization):
    url: str = Field(max_length=MAX_URL)
    events: list[SubscribedEvent] = Field(min_length=1, max_length=MAX_EVENTS)
    verify_ssl: Boolean = True


class WebhookUpdate(SubscriptionFilter, PostedOrganization):
    """PUT behaves as PATCH: only the fields sent change."""

    url: str = Field(default="", max_length=MAX_URL)
    events: list[SubscribedEvent] = Field(default_factory=list, min_length=1, max_length=MAX_EVENTS)
    verify_ssl: Boolean = True
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE


class WebhookOut(BaseModel):
    """The response object (documentation only; responses come from ``render_subscription``)."""

    id: str
    organization_id: str
    url: str
    events: list[SubscribedEvent]
    event_filter: dict[str, Any] | None
    verify_ssl: bool
    status: SubscriptionStatus
    created_by: str | None
    updated_by: str | None
    date_created: str
    date_updated: str


class WebhookCreated(WebhookOut):
    signature_key: str
    """64 hex characters; only in the create response."""


class WebhookList(BaseModel):
    data: list[WebhookOut]
    has_more: bool


def stored_events(events: list[SubscribedEvent]) -> list[dict[str, Any]]:
    """``{object_type, action}``, and ``extra_filter`` where the event has one."""
    return [
        item.model_dump(include={"object_type", "action", "extra_filter"}, exclude_none=True)
        for item in events
    ]


def render_subscription(subscription: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "organization_id": subscription.organization_id,
        "url": subscription.url,
        "events": [dict(item) for item in subscription.events],
        "event_filter": subscription.event_filter,
        "verify_ssl": subscription.verify_ssl,
        "status": subscription.status,
        "created_by": subscription.created_by,
        "updated_by": subscription.updated_by,
        "date_created": format_datetime(subscription.created_at),
        "date_updated": format_datetime(subscription.updated_at),
    }
