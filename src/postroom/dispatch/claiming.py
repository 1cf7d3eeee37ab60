"""One claim transaction: the due emails it takes for a worker, each one's sending route, and
when the next email and the next follow-up are due.

A claim is a conditional update of the email rows (``dispatch.repository.claim_due``); the
dispatcher runs one a round while it has free slots, ``CLAIM_CHUNK`` emails at most.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.accounts.service import SendingRoute, UnreadableCredentials
from postroom.dispatch import repository as repo
from postroom.dispatch.routing import TransportRegistry
from postroom.emails.rendering import EmailColumns

CLAIM_CHUNK = 500
"""Emails one claim transaction takes at most. A claim of 5,000 held the first send back by
half a second (the whole claim is read and its routes found before any email starts); in
chunks the first ones go out while the next chunk is claimed."""


Route = SendingRoute | UnreadableCredentials | None
"""How a claimed email leaves: a sending route, or why it cannot (None: no account at all)."""


@dataclass(frozen=True)
class Claim:
    """What one claim transaction found: the emails now ours, their routes, and when the next
    email (``None`` when the claim filled every free slot) and the next follow-up are due."""

    emails: Sequence[EmailColumns]
    routes: dict[str, Route]
    next_due: datetime | None
    next_followup: datetime | None


async def claim_due_emails(
    session: AsyncSession,
    registry: TransportRegistry,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    limit: int,
) -> Claim:
    emails: Sequence[EmailColumns] = []
    if limit:
        emails = await repo.claim_due(session, worker_id, now, now + lease, limit)
    routes = await _routes(session, registry, emails)
    full = len(emails) == limit
    return Claim(
        emails=emails,
        routes=routes,
        next_due=None if full else await repo.next_due_at(session),
        next_followup=await repo.next_followup_at(session),
    )


async def _routes(
    session: AsyncSession, registry: TransportRegistry, emails: Sequence[EmailColumns]
) -> dict[str, Route]:
    cache: dict[tuple[str, str | None], Route] = {}
    routes: dict[str, Route] = {}
    for email in emails:
        key = (email.organization_id, email.email_account_id)
        if key not in cache:
            cache[key] = await _route(session, registry, email)
        routes[email.id] = cache[key]
    return routes


async def _route(session: AsyncSession, registry: TransportRegistry, email: EmailColumns) -> Route:
    """An account this server cannot use fails its own emails, not the claim they are in
    (the claim of every email due with them, again at each round)."""
    try:
        return await registry.route(session, email)
    except UnreadableCredentials as problem:
        return problem
