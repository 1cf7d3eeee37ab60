"""``Idempotency-Key`` on ``POST /activity/email/``: replay, conflicts, release, expiry, races.

Bodies are sent as fixed bytes so a repeat has the same fingerprint. A request "still running"
is a key claimed through the service, as a running request claims it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from sqlalchemy import func, select, update

from postroom.db import Database
from postroom.errors import Conflict
from postroom.idempotency.service import (
    CONTROL_CHARACTERS,
    Replay,
    claim_key,
    fingerprint_of,
    remove_expired_keys,
    store_response,
)
from postroom.kit.datetimes import utcnow
from postroom.kit.responses import JSONResponse
from postroom.models import IdempotencyKey
from tests.conftest import Tenant
from tests.helpers import create_lead, ok
from tests.live import LiveServer, live_server

KEY = "Idempotency-Key"


def email_bytes(lead_id: str, **fields: Any) -> bytes:
    body = {"lead_id": lead_id, "status": "draft", "to": ["jane@acme.example.com"], **fields}
    return json.dumps(body).encode()


async def post(tenant: Tenant, body: bytes, key: str | None = "key-1") -> httpx.Response:
    headers = {KEY: key} if key is not None else {}
    return await tenant.client.post("/activity/email/", content=body, headers=headers)


async def emails_of(tenant: Tenant, lead_id: str) -> list[dict[str, Any]]:
    listed = ok(await tenant.client.get("/activity/email/", params={"lead_id": lead_id}))
    emails: list[dict[str, Any]] = listed["data"]
    return emails


async def claim(
    database: Database, tenant: Tenant, key: str, body: bytes, now: datetime
) -> str | Replay:
    async with database.transaction() as session:
        return await claim_key(session, tenant.organization_id, key, fingerprint_of(body), now)


async def keys_of(database: Database, tenant: Tenant) -> int:
    statement = select(func.count()).where(IdempotencyKey.organization_id == tenant.organization_id)
    async with database.transaction() as session:
        return int((await session.execute(statement)).scalar_one())


async def test_repeat_with_the_same_key_and_body_returns_the_first_response(
    tenant: Tenant,
) -> None:
    lead = await create_lead(tenant.client)
    body = email_bytes(lead["id"])
    first = await post(tenant, body)
    repeat = await post(tenant, body)
    assert (repeat.status_code, repeat.json()) == (first.status_code, ok(first))
    assert repeat.headers["Idempotent-Replayed"] == "true"


async def test_repeat_creates_nothing(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    body = email_bytes(lead["id"])
    for _ in range(3):
        ok(await post(tenant, body))
    assert len(await emails_of(tenant, lead["id"])) == 1


async def test_same_key_with_a_different_body_gets_409(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    ok(await post(tenant, email_bytes(lead["id"], subject="One")))
    response = await post(tenant, email_bytes(lead["id"], subject="Two"))
    assert response.status_code == 409
    assert "different request body" in response.json()["error"]
    assert len(await emails_of(tenant, lead["id"])) == 1


async def test_repeat_while_the_first_is_running_gets_409(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client)
    body = email_bytes(lead["id"])
    await claim(database, tenant, "key-1", body, utcnow())
    response = await post(tenant, body)
    assert response.status_code == 409
    assert "still in progress" in response.json()["error"]
    assert await emails_of(tenant, lead["id"]) == []


async def test_a_run_again_of_the_request_carries_on_with_its_own_claim(
    tenant: Tenant, database: Database
) -> None:
    """A request run again after the database refused its ``COMMIT`` (``kit.routing``) finds
    the claim of its earlier run still running: its own, not one in progress elsewhere."""
    body = b"{}"
    first_run = await claim(database, tenant, "key-1", body, utcnow())
    assert isinstance(first_run, str)
    async with database.transaction() as session:
        organization_id = tenant.organization_id
        fingerprint = fingerprint_of(body)
        again = await claim_key(session, organization_id, "key-1", fingerprint, utcnow(), first_run)
        assert again == first_run
        with pytest.raises(Conflict, match="still in progress"):
            await claim_key(session, organization_id, "key-1", fingerprint, utcnow(), "idem_other")


async def test_key_running_for_over_a_minute_is_taken_over(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client)
    body = email_bytes(lead["id"])
    await claim(database, tenant, "key-1", body, utcnow() - timedelta(seconds=61))
    ok(await post(tenant, body))
    assert len(await emails_of(tenant, lead["id"])) == 1


async def test_failed_request_releases_its_key_for_a_corrected_retry(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client)
    refused = await post(tenant, email_bytes(lead["id"], status="scheduled"))
    assert refused.status_code == 400
    assert await keys_of(database, tenant) == 0
    ok(await post(tenant, email_bytes(lead["id"])))
    assert len(await emails_of(tenant, lead["id"])) == 1


async def test_key_of_255_characters_is_accepted(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    ok(await post(tenant, email_bytes(lead["id"]), key="k" * 255))


async def test_key_over_255_characters_is_refused_with_400(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    response = await post(tenant, email_bytes(lead["id"]), key="k" * 256)
    assert response.status_code == 400
    assert KEY in response.json()["field-errors"]
    assert await emails_of(tenant, lead["id"]) == []


@pytest.mark.parametrize("key", ["key\x00", "key\x7f", "\x01", "key\x1b[0m"])
async def test_key_with_a_control_character_is_refused_with_400(tenant: Tenant, key: str) -> None:
    """HTTP/1.1 servers refuse a NUL in a header, other transports may not: a key with one
    reached PostgreSQL, which stores no NUL in text (a 500)."""
    lead = await create_lead(tenant.client)
    response = await post(tenant, email_bytes(lead["id"]), key=key)
    assert response.status_code == 400, response.text
    assert response.json()["field-errors"] == {KEY: CONTROL_CHARACTERS}
    assert await emails_of(tenant, lead["id"]) == []


async def test_requests_without_a_key_are_each_created(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    body = email_bytes(lead["id"])
    for _ in range(2):
        ok(await post(tenant, body, key=None))
    assert len(await emails_of(tenant, lead["id"])) == 2


async def test_keys_belong_to_one_organization(tenant: Tenant, other_tenant: Tenant) -> None:
    ours = await create_lead(tenant.client)
    theirs = await create_lead(other_tenant.client)
    ok(await post(tenant, email_bytes(ours["id"])))
    ok(await post(other_tenant, email_bytes(theirs["id"])))
    assert len(await emails_of(other_tenant, theirs["id"])) == 1


async def expire_keys(database: Database, tenant: Tenant) -> None:
    statement = (
        update(IdempotencyKey)
        .where(IdempotencyKey.organization_id == tenant.organization_id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    async with database.transaction() as session:
        await session.execute(statement)


async def test_expired_key_is_used_afresh(tenant: Tenant, database: Database) -> None:
    lead = await create_lead(tenant.client)
    body = email_bytes(lead["id"])
    first = ok(await post(tenant, body))
    await expire_keys(database, tenant)
    second = ok(await post(tenant, body))
    assert second["id"] != first["id"]


async def test_keys_are_kept_24_hours(tenant: Tenant, database: Database) -> None:
    lead = await create_lead(tenant.client)
    ok(await post(tenant, email_bytes(lead["id"])))
    async with database.transaction() as session:
        assert await remove_expired_keys(session, utcnow() + timedelta(hours=23, minutes=59)) == 0
    async with database.transaction() as session:
        await remove_expired_keys(session, utcnow() + timedelta(hours=24, seconds=1))
    assert await keys_of(database, tenant) == 0


async def test_remove_expired_keys_leaves_live_keys(tenant: Tenant, database: Database) -> None:
    lead = await create_lead(tenant.client)
    ok(await post(tenant, email_bytes(lead["id"]), key="old"))
    await expire_keys(database, tenant)
    ok(await post(tenant, email_bytes(lead["id"]), key="new"))
    async with database.transaction() as session:
        await remove_expired_keys(session, utcnow())
    assert await keys_of(database, tenant) == 1


async def test_concurrent_requests_with_one_key_create_one_email(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    body = email_bytes(lead["id"])
    responses = await asyncio.gather(*(post(tenant, body) for _ in range(4)))
    assert {response.status_code for response in responses} <= {200, 409}
    created = {response.json()["id"] for response in responses if response.status_code == 200}
    emails = await emails_of(tenant, lead["id"])
    assert len(emails) == 1
    assert created == {emails[0]["id"]}


# Over TCP, with a real server and threads


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder: Path = tmp_path_factory.mktemp("live-idempotency")
    with live_server(database_url, folder) as running:
        yield running


def thread_posts(server: LiveServer, body: dict[str, Any], count: int) -> list[requests.Response]:
    """``count`` threads post ``body`` with one key at the same moment."""
    barrier = threading.Barrier(count)
    responses: list[requests.Response] = []

    def send() -> None:
        with requests.Session() as session:
            barrier.wait()
            responses.append(
                session.post(
                    f"{server.base_url}activity/email/",
                    json=body,
                    auth=(server.api_key, ""),
                    headers={KEY: "thread-key"},
                    timeout=30,
                )
            )

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def test_threads_posting_one_key_to_a_live_server_create_one_email(server: LiveServer) -> None:
    auth = (server.api_key, "")
    lead = requests.post(
        f"{server.base_url}lead/", json={"name": "Acme"}, auth=auth, timeout=30
    ).json()
    body = {"lead_id": lead["id"], "status": "draft", "to": ["jane@acme.example.com"]}
    responses = thread_posts(server, body, 4)
    assert {response.status_code for response in responses} <= {200, 409}
    listed = requests.get(
        f"{server.base_url}activity/email/", params={"lead_id": lead["id"]}, auth=auth, timeout=30
    ).json()
    created = {response.json()["id"] for response in responses if response.status_code == 200}
    assert len(listed["data"]) == 1
    assert created == {listed["data"][0]["id"]}


async def test_request_whose_key_was_taken_over_stores_nothing_and_gets_409(
    tenant: Tenant, database: Database
) -> None:
    body = b"{}"
    slow = await claim(database, tenant, "key-1", body, utcnow() - timedelta(seconds=61))
    await claim(database, tenant, "key-1", body, utcnow())
    assert isinstance(slow, str)
    async with database.transaction() as session:
        with pytest.raises(Conflict):
            await store_response(session, slow, JSONResponse({}))
