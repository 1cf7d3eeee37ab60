"""``Idempotency-Key`` on a create: a repeated request gets the first response, nothing more.

A key belongs to an organization and is kept 24 h. The fingerprint of a request is the SHA-256
of its raw body.

1. **Claim**, in a short transaction of its own (committed at once, so other requests see it):
   insert the key in state ``running``. If the organization has the key already:

   - it expired, or it is running since more than 60 s (its process died): replace it;
   - another fingerprint: 409;
   - still running: 409;
   - finished: replay its stored status and body (header ``Idempotent-Replayed: true``).

2. **Create** in the request's own transaction, and store the response on the key row in that
   same transaction: the email and the stored response commit together, or neither does.
3. **On failure** (a 4xx or anything else) the request's transaction is rolled back and the key
   row removed in a short transaction, so a corrected retry can go ahead.

The request's transaction has only read (authentication) when the claim starts; it is ended
first, because SQLite has a single writer connection that the claim needs.

A request the database aborted is run again (``kit.routing``): a run finds the claim of an
earlier run of the same request (kept in ``request.state``) and carries on with it, where
another request would find the key in progress.

Remaining window: if the process dies, or the final commit fails, after the claim, nothing was
created but the key answers 409 until its claim is 60 s old; then a retry takes it over. A
request that runs for more than 60 s may see its key taken over: it then finds its row gone when
it stores its response and fails with 409, so only one of the two creates.

Expired keys are deleted by ``remove_expired_keys``, for the dispatcher's housekeeping.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import AfterValidator
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import State

from postroom.db import Database
from postroom.errors import Conflict
from postroom.idempotency import repository
from postroom.kit.datetimes import utcnow
from postroom.kit.ids import new_id
from postroom.kit.responses import JSONResponse
from postroom.models import IdempotencyKey
from postroom.users.auth import Caller

KEEP_FOR = timedelta(hours=24)
STALE_AFTER = timedelta(seconds=60)
MAX_KEY_LENGTH = 255
CLAIM_ATTEMPTS = 3
REPLAYED_HEADER = "Idempotent-Replayed"
IN_PROGRESS = "A request with this Idempotency-Key is still in progress."
OTHER_BODY = "This Idempotency-Key was already used with a different request body."
TAKEN_OVER = "This request took too long: a retry with its Idempotency-Key took over."
CLAIM = "idempotency_claim"
"""The ``request.state`` attribute naming the row a run of the request claimed."""

Create = Callable[[], Awaitable[JSONResponse]]


@dataclass(frozen=True)
class Replay:
    """The response stored for a finished key."""

    status: int
    body: dict[str, Any]


def fingerprint_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def claim_key(
    session: AsyncSession,
    organization_id: str,
    key: str,
    fingerprint: str,
    now: datetime,
    own_claim: str | None = None,
) -> str | Replay:
    """Claim ``key``: the id of the new ``running`` row, or the response to replay.
    ``own_claim``: the row an earlier run of this same request claimed, which is still its own.

    Raises ``Conflict`` when the key is in use by another request or another body.
    """
    for _ in range(CLAIM_ATTEMPTS):
        row = _new_row(organization_id, key, fingerprint, now)
        if await repository.insert_key(session, row):
            return row.id
        existing = await repository.get_key(session, organization_id, key)
        if existing is None:
            continue
        if existing.id == own_claim and existing.state == repository.RUNNING:
            return existing.id
        if not _abandoned(existing, now):
            return _verdict(existing, fingerprint)
        await repository.delete_abandoned(session, existing.id, now, now - STALE_AFTER)
    raise Conflict(IN_PROGRESS)


def _new_row(organization_id: str, key: str, fingerprint: str, now: datetime) -> IdempotencyKey:
    return IdempotencyKey(
        id=new_id("idem"),
        organization_id=organization_id,
        key=key,
        fingerprint=fingerprint,
        state=repository.RUNNING,
        created_at=now,
        updated_at=now,
        expires_at=now + KEEP_FOR,
    )


def _abandoned(row: IdempotencyKey, now: datetime) -> bool:
    if row.expires_at <= now:
        return True
    return row.state == repository.RUNNING and row.created_at < now - STALE_AFTER


def _verdict(row: IdempotencyKey, fingerprint: str) -> Replay:
    if row.fingerprint != fingerprint:
        raise Conflict(OTHER_BODY)
    if row.state == repository.RUNNING or row.response_status is None:
        raise Conflict(IN_PROGRESS)
    return Replay(row.response_status, row.response_body or {})


async def store_response(session: AsyncSession, row_id: str, response: JSONResponse) -> None:
    """Keep ``response`` on the claimed row, in the transaction that made it."""
    body = json.loads(bytes(response.body))
    if not await repository.finish(session, row_id, response.status_code, body, utcnow()):
        raise Conflict(TAKEN_OVER)


async def remove_expired_keys(session: AsyncSession, now: datetime, batch: int = 1000) -> int:
    """Delete up to ``batch`` of the keys kept past their 24 h; return how many."""
    return await repository.delete_expired(session, now, batch)


@dataclass(frozen=True)
class IdempotentRequest:
    """A create request and its ``Idempotency-Key`` (None: no key, nothing to remember);
    ``state`` keeps its claim for a run of it again (``kit.routing``)."""

    database: Database
    key: str | None
    fingerprint: str
    state: State

    async def run(self, session: AsyncSession, caller: Caller, create: Create) -> JSONResponse:
        """``create()`` at most once per key; replay or refuse repeats."""
        if self.key is None:
            return await create()
        await session.rollback()  # end the read-only transaction: SQLite has one writer
        claimed = await self._claim(caller.organization_id, self.key)
        if isinstance(claimed, Replay):
            headers = {REPLAYED_HEADER: "true"}
            return JSONResponse(claimed.body, status_code=claimed.status, headers=headers)
        return await self._create(session, claimed, create)

    async def _claim(self, organization_id: str, key: str) -> str | Replay:
        own_claim: str | None = getattr(self.state, CLAIM, None)

        async def claim(session: AsyncSession) -> str | Replay:
            now = utcnow()
            return await claim_key(session, organization_id, key, self.fingerprint, now, own_claim)

        claimed = await self.database.run(claim)
        if isinstance(claimed, str):
            setattr(self.state, CLAIM, claimed)
        return claimed

    async def _create(self, session: AsyncSession, row_id: str, create: Create) -> JSONResponse:
        try:
            response = await create()
            await store_response(session, row_id, response)
        except Exception:
            await session.rollback()
            await self.database.run(lambda claim: repository.delete_running(claim, row_id))
            raise
        return response


CONTROL_CHARACTERS = "An Idempotency-Key may not contain control characters."


def _printable_key(key: str | None) -> str | None:
    """HTTP/1.1 servers refuse control characters in headers, but not every transport does;
    a NUL cannot be stored in PostgreSQL text (a 500)."""
    if key is not None and any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in key):
        raise ValueError(CONTROL_CHARACTERS)
    return key


async def idempotent_request(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", min_length=1, max_length=MAX_KEY_LENGTH),
        AfterValidator(_printable_key),
    ] = None,
) -> IdempotentRequest:
    """The dependency: the key header and the fingerprint of the (already read) body."""
    fingerprint = fingerprint_of(await request.body()) if idempotency_key is not None else ""
    database = request.app.state.database
    return IdempotentRequest(database, idempotency_key, fingerprint, request.state)


IdempotencyDep = Annotated[IdempotentRequest, Depends(idempotent_request)]
