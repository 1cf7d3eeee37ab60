"""Rules about webhook subscriptions and the outcome of each delivery. Never commits.

- At most ``max_webhook_subscriptions`` (40) per organization; ids are ``whsub_…``.
- Only ``http``/``https`` URLs with a host; a host resolving to a loopback, private,
  link-local, reserved, multicast or unspecified address is refused unless
  ``webhooks_allow_private`` (checked on create and update, and again before each delivery).
- The ``signature_key`` (32 random bytes as hex) is sealed with the ``SecretBox`` and shown
  only in the create response.
- ``status`` is ``active`` or ``paused``; resuming clears ``failing_since``, and the pending
  deliveries of a paused subscription wait, then go out once it is active again.
- A 2xx delivers. Anything else is retried after ``first_delay`` seconds, doubling, at most
  ``max_delay`` apart; a delivery is given up (``failed``) at the failure after which its next
  attempt would come more than ``give_up_after`` seconds after its first failure, counted on
  that schedule (time the subscription spent paused or no worker ran is not counted). A
  subscription whose failures have lasted ``give_up_after`` seconds of wall-clock time (no 2xx
  meanwhile) is paused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.config import Settings
from postroom.db import WEBHOOKS_QUEUED
from postroom.dispatch.policy import RetryPolicy
from postroom.errors import NotFound, ValidationFailed
from postroom.kit.datetimes import utcnow
from postroom.kit.ids import new_id
from postroom.kit.secrets import SecretBox, secret_box
from postroom.kit.sql import has_changes
from postroom.kit.tenancy import check_posted_organization
from postroom.models import WebhookDelivery, WebhookSubscription
from postroom.users.auth import Caller
from postroom.webhooks import repository
from postroom.webhooks.schemas import (
    SubscriptionStatus,
    WebhookCreate,
    WebhookUpdate,
    stored_events,
)
from postroom.webhooks.signing import new_signature_key

MODEL = "WebhookSubscription"
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_ERROR = 1000

# -- URLs ------------------------------------------------------------------------------------


class UnusableUrl(ValueError):
    """A webhook URL that may not be used; the message says why."""


def url_host_and_port(url: str) -> tuple[str, int]:
    """The host and port an ``http(s)`` URL points at, or ``UnusableUrl``.

    A space or control character anywhere is refused first: ``urlsplit`` drops tabs and line
    breaks before it finds the host, so the check passed, while the sender's client refuses
    such a URL on every attempt (a subscription that could never receive anything)."""
    if any(character.isspace() or not character.isprintable() for character in url):
        raise UnusableUrl("A URL may not contain spaces, line breaks or control characters.")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError as error:  # "Invalid IPv6 URL": an unclosed "[" (was a 500)
        raise UnusableUrl("The URL is not valid.") from error
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UnusableUrl("Only http and https URLs can receive webhooks.")
    if not hostname:
        raise UnusableUrl("The URL has no host.")
    try:
        port = parts.port
    except ValueError as error:
        raise UnusableUrl("The URL's port is not valid.") from error
    if port == 0:
        raise UnusableUrl("The URL's port is not valid.")
    check_sendable(url)
    return hostname, port or DEFAULT_PORTS[scheme]


_HOST = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?")
"""A DNS name as the sender looks it up (IDNA-encoded): labels that are not empty."""


def check_sendable(url: str) -> None:
    """``UnusableUrl`` unless the sender's HTTP client can send to ``url``: it parses it, its
    IDNA labels decode (``xn--`` does not) and its host is an IP address or a DNS name
    (``%zz`` or ``a..b`` never resolve). Such a URL, stored where private addresses are
    allowed (no DNS lookup on create), failed every attempt until paused."""
    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
        _ = parsed.host  # decodes IDNA labels: "xn--" does not
    except (httpx.InvalidURL, ValueError) as error:
        raise UnusableUrl("The URL is not valid.") from error
    if ":" in host or _HOST.fullmatch(host):
        return
    raise UnusableUrl("The URL's host is not a valid host name.")


def is_forbidden_address(address: str) -> bool:
    """True for loopback, private, link-local, reserved, multicast, unspecified (or other
    non-global) addresses, IPv4-mapped IPv6 included, and a 6to4 address (``2002::/16``)
    whose embedded IPv4 address is one of them: a host with a 6to4 route sends
    ``2002:c0a8:101::1`` to 192.168.1.1, and Python counts ``2002::/16`` as global."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None and _is_forbidden_ip(embedded):
            return True
        ip = ip.ipv4_mapped or ip
    return _is_forbidden_ip(ip)


def _is_forbidden_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def url_problem(url: str, allow_private: bool) -> str | None:
    """Why ``url`` may not receive webhooks, or None when it may."""
    try:
        host, port = url_host_and_port(url)
    except UnusableUrl as error:
        return str(error)
    if allow_private:
        return None
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError):
        return "The URL's host could not be resolved."
    if not addresses or any(is_forbidden_address(address) for address in addresses):
        return "The URL resolves to a loopback or private address."
    return None


async def check_url(url: str, settings: Settings) -> None:
    problem = await url_problem(url, settings.webhooks_allow_private)
    if problem is not None:
        raise ValidationFailed.field("url", problem)


# -- subscriptions ---------------------------------------------------------------------------


def sealing_box(settings: Settings) -> SecretBox:
    """The box that seals signature keys (``POSTROOM_SECRET_KEY`` or the key file)."""
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    return secret_box(secret, settings.data_dir)


@dataclass(frozen=True)
class CreatedSubscription:
    subscription: WebhookSubscription
    signature_key: str


async def create_subscription(
    session: AsyncSession, caller: Caller, body: WebhookCreate, settings: Settings, box: SecretBox
) -> CreatedSubscription:
    check_posted_organization(body, caller.organization_id)
    await check_url(body.url, settings)
    await repository.lock_organization(session, caller.organization_id)
    limit = settings.max_webhook_subscriptions
    if await repository.count_subscriptions(session, caller.organization_id) >= limit:
        raise ValidationFailed([f"An organization can have at most {limit} webhook subscriptions."])
    key = new_signature_key()
    now = utcnow()
    subscription = WebhookSubscription(
        id=new_id("whsub"),
        organization_id=caller.organization_id,
        url=body.url,
        events=stored_events(body.events),
        event_filter=body.event_filter,
        verify_ssl=body.verify_ssl,
        status=SubscriptionStatus.ACTIVE.value,
        signature_key_sealed=box.seal(key),
        failing_since=None,
        created_by=caller.user_id,
        updated_by=caller.user_id,
        created_at=now,
        updated_at=now,
    )
    repository.add(session, subscription)
    await session.flush()
    return CreatedSubscription(subscription, key)


async def list_subscriptions(
    session: AsyncSession, caller: Caller, skip: int, limit: int
) -> Sequence[WebhookSubscription]:
    return await repository.list_subscriptions(session, caller.organization_id, skip, limit)


async def get_subscription(
    session: AsyncSession, caller: Caller, subscription_id: str, locked: bool = False
) -> WebhookSubscription:
    found = await repository.get_subscription(
        session, caller.organization_id, subscription_id, locked
    )
    if found is None:
        raise NotFound(MODEL)
    return found


async def update_subscription(
    session: AsyncSession,
    caller: Caller,
    subscription_id: str,
    body: WebhookUpdate,
    settings: Settings,
) -> WebhookSubscription:
    subscription = await get_subscription(session, caller, subscription_id, locked=True)
    check_posted_organization(body, caller.organization_id)
    sent = body.model_fields_set
    if "url" in sent:
        await check_url(body.url, settings)
        subscription.url = body.url
    if "events" in sent:
        subscription.events = stored_events(body.events)
    if "event_filter" in sent:
        subscription.event_filter = body.event_filter
    if "verify_ssl" in sent:
        subscription.verify_ssl = body.verify_ssl
    if "status" in sent:
        set_status(session, subscription, body.status)
    if not has_changes(subscription):
        return subscription
    subscription.updated_by = caller.user_id
    subscription.updated_at = utcnow()
    await session.flush()
    return subscription


def set_status(
    session: AsyncSession, subscription: WebhookSubscription, status: SubscriptionStatus
) -> None:
    """Pause or resume; resuming restarts the failure clock and wakes the sender."""
    if status is SubscriptionStatus.ACTIVE and subscription.status != status.value:
        subscription.failing_since = None
        session.info[WEBHOOKS_QUEUED] = True
    subscription.status = status.value


async def delete_subscription(session: AsyncSession, caller: Caller, subscription_id: str) -> None:
    subscription = await get_subscription(session, caller, subscription_id, locked=True)
    await repository.delete_subscription(session, subscription.id)


# -- delivery outcomes -----------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one attempt changes: the delivery's columns, and whether it was a 2xx."""

    subscription_id: str
    delivered: bool
    row: dict[str, Any]


def policy_of(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        first_delay=settings.webhook_retry_first_delay_seconds,
        max_delay=settings.webhook_retry_max_delay_seconds,
        give_up_after=settings.webhook_give_up_after_seconds,
    )


def next_attempt(policy: RetryPolicy, failures: int, now: datetime) -> datetime | None:
    """When to try again after ``failures`` failed attempts, or None to give up: the next
    attempt would come more than ``give_up_after`` after the first failure on the schedule."""
    since_first_failure = sum(policy.delay(failure) for failure in range(1, failures + 1))
    if since_first_failure > policy.give_up_after:
        return None
    return now + timedelta(seconds=policy.delay(failures))


def delivered(delivery: WebhookDelivery, status_code: int, now: datetime) -> DeliveryOutcome:
    row = {
        "id": delivery.id,
        "attempt_count": delivery.attempt_count + 1,
        "last_status_code": status_code,
        "delivered_at": now,
        "updated_at": now,
    }
    return DeliveryOutcome(delivery.subscription_id, True, row)


def failed(
    delivery: WebhookDelivery,
    error: str,
    status_code: int | None,
    now: datetime,
    policy: RetryPolicy,
) -> DeliveryOutcome:
    failures = delivery.attempt_count + 1
    retry_at = next_attempt(policy, failures, now)
    row = {
        "id": delivery.id,
        "status": repository.PENDING if retry_at else repository.FAILED,
        "due_at": retry_at or delivery.due_at,
        "attempt_count": failures,
        "last_error": error[:MAX_ERROR],
        "last_status_code": status_code,
        "updated_at": now,
    }
    return DeliveryOutcome(delivery.subscription_id, False, row)


async def record_outcomes(
    session: AsyncSession,
    worker_id: str,
    outcomes: Sequence[DeliveryOutcome],
    give_up_after: float,
    now: datetime,
) -> list[str]:
    """Store attempts; keep each subscription's failure clock; return the ids just paused."""
    await repository.write_delivered(session, [o.row for o in outcomes if o.delivered])
    failures = [outcome.row for outcome in outcomes if not outcome.delivered]
    await repository.write_failures(session, worker_id, failures)
    healthy = {outcome.subscription_id for outcome in outcomes if outcome.delivered}
    failing = {outcome.subscription_id for outcome in outcomes if not outcome.delivered} - healthy
    await repository.clear_failing(session, healthy)
    await repository.mark_failing(session, failing, now)
    window = timedelta(seconds=give_up_after)
    return await repository.pause_failing(session, failing, now - window, now)
