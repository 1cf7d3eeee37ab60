"""Size and shape limits (request bytes, JSON depth, lists) and overload (503 with Retry-After).

A second app with small limits (64 KiB bodies, depth 8, two requests in progress) runs next to
the default one. Requests are held in progress by bodies that wait before they arrive.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from postroom.config import Settings
from postroom.kit.limits import JsonDepthGauge, LimitBody
from tests.conftest import Tenant, create_tenant
from tests.helpers import create_lead, field_errors, ok, upload_file
from tests.limits import running_app

SMALL_BODY_LIMIT = 64 * 1024
SMALL_DEPTH_LIMIT = 8
IN_PROGRESS_LIMIT = 2
MEBIBYTE = 1024 * 1024


@pytest.fixture(scope="module")
async def small_app(settings: Settings) -> AsyncIterator[FastAPI]:
    changes = {"max_request_bytes": SMALL_BODY_LIMIT, "max_json_depth": SMALL_DEPTH_LIMIT}
    async with running_app(settings, **changes) as application:
        yield application


@pytest.fixture(scope="module")
async def busy_app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(settings, max_concurrent_requests=IN_PROGRESS_LIMIT) as application:
        yield application


@asynccontextmanager
async def tenant_of(application: FastAPI) -> AsyncIterator[Tenant]:
    created = await create_tenant(application, application.state.database)
    try:
        yield created
    finally:
        await created.client.aclose()


@pytest.fixture
async def small(small_app: FastAPI) -> AsyncIterator[Tenant]:
    async with tenant_of(small_app) as created:
        yield created


@pytest.fixture
async def busy(busy_app: FastAPI) -> AsyncIterator[Tenant]:
    async with tenant_of(busy_app) as created:
        yield created


def email_body(lead_id: str, **fields: Any) -> dict[str, Any]:
    return {"lead_id": lead_id, "status": "draft", "to": ["jane@acme.example.com"], **fields}


def nested(depth: int) -> dict[str, Any]:
    """An envelope that makes the whole email body ``depth`` levels deep."""
    value: dict[str, Any] = {}
    for _ in range(depth - 2):
        value = {"inner": value}
    return value


class Chunks:
    """A request body sent in chunks, counting how many the server asked for."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.pulled += 1
            yield chunk


# Request size


async def test_body_declared_over_the_limit_gets_413_before_it_is_read(small: Tenant) -> None:
    body = Chunks([b"x" * (SMALL_BODY_LIMIT + 1)])
    headers = {"Content-Length": str(SMALL_BODY_LIMIT + 1)}
    response = await small.client.post("/activity/email/", content=body, headers=headers)
    assert response.status_code == 413
    assert str(SMALL_BODY_LIMIT) in response.json()["error"]
    assert body.pulled == 0


async def test_streamed_body_growing_past_the_limit_gets_413_without_reading_on(
    small: Tenant,
) -> None:
    body = Chunks([b"x" * 16 * 1024] * 10)
    response = await small.client.post("/activity/email/", content=body)
    assert response.status_code == 413
    assert set(response.json()) == {"error"}
    assert body.pulled == 5


async def test_body_just_under_the_limit_is_accepted(small: Tenant) -> None:
    lead = await create_lead(small.client)
    text = "x" * (SMALL_BODY_LIMIT - 1000)
    ok(await small.client.post("/activity/email/", json=email_body(lead["id"], body_text=text)))


async def test_default_limit_refuses_a_body_over_30_mb(tenant: Tenant) -> None:
    size = 30 * MEBIBYTE + 1
    body = Chunks([b"x" * size])
    headers = {"Content-Length": str(size)}
    response = await tenant.client.post("/activity/email/", content=body, headers=headers)
    assert response.status_code == 413
    assert body.pulled == 0


async def test_25_mb_file_upload_passes_the_default_limits(tenant: Tenant) -> None:
    data = b"\x00" * (25 * MEBIBYTE)
    attachment = await upload_file(tenant.client, "big.bin", "application/octet-stream", data)
    assert attachment["size"] == len(data)


# JSON depth


async def test_json_nested_deeper_than_the_limit_is_a_close_style_400(small: Tenant) -> None:
    lead = await create_lead(small.client)
    body = email_body(lead["id"], envelope=nested(SMALL_DEPTH_LIMIT + 1))
    response = await small.client.post("/activity/email/", json=body)
    assert field_errors(response) == {}
    assert response.json()["errors"] == [
        f"JSON body is nested deeper than {SMALL_DEPTH_LIMIT} levels."
    ]
    assert response.json()["error"] == response.json()["errors"][0]


async def test_json_nested_exactly_to_the_limit_is_accepted(small: Tenant) -> None:
    lead = await create_lead(small.client)
    body = email_body(lead["id"], envelope=nested(SMALL_DEPTH_LIMIT))
    ok(await small.client.post("/activity/email/", json=body))


async def test_default_depth_limit_is_32(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    deep = email_body(lead["id"], envelope=nested(33))
    assert (await tenant.client.post("/activity/email/", json=deep)).status_code == 400
    ok(
        await tenant.client.post(
            "/activity/email/", json=email_body(lead["id"], envelope=nested(32))
        )
    )


async def test_brackets_and_escaped_quotes_inside_strings_do_not_count(small: Tenant) -> None:
    lead = await create_lead(small.client)
    subject = '[{"\\' * 20
    body = email_body(lead["id"], subject=subject, body_text="{" * 100)
    assert ok(await small.client.post("/activity/email/", json=body))["subject"] == subject


async def test_depth_is_followed_across_streamed_chunks(small: Tenant) -> None:
    lead = await create_lead(small.client)
    text = json.dumps(email_body(lead["id"], envelope=nested(SMALL_DEPTH_LIMIT + 1))).encode()
    body = Chunks([text[index : index + 3] for index in range(0, len(text), 3)])
    response = await small.client.post("/activity/email/", content=body)
    assert response.status_code == 400
    assert "nested deeper" in response.json()["errors"][0]


TRICKY_JSON = [
    b'{"a": [1, {"b": "]]]}}}"}], "c": "\\\\", "d": [[["\\""]]]}',
    b'["\\\\\\"[[[", {"\\\\": [{}]}, "{\\\\\\\\"]',
    b'[[[[[]]]], [[[]]], "[[[[[[[[[[", {"k": {"k": {"k": {}}}}]',
]


def plain_depth(text: bytes) -> int:
    """The nesting depth of valid JSON, through the standard library."""

    def depth(value: Any) -> int:
        if isinstance(value, dict):
            return 1 + max(map(depth, value.values()), default=0)
        if isinstance(value, list):
            return 1 + max(map(depth, value), default=0)
        return 0

    return depth(json.loads(text))


def chunked(text: bytes, size: int) -> Iterator[bytes]:
    return (text[index : index + size] for index in range(0, len(text), size))


@pytest.mark.parametrize("text", TRICKY_JSON)
def test_depth_gauge_agrees_with_the_json_parser_however_the_text_is_cut(text: bytes) -> None:
    for size in range(1, len(text) + 1):
        gauge = JsonDepthGauge()
        for chunk in chunked(text, size):
            gauge.feed(chunk)
        assert (gauge.deepest, gauge.depth) == (plain_depth(text), 0), size


# Lists (spec §2.1: the schema refuses them, within the byte limit)


async def test_more_than_1000_attachments_are_refused(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    item = {"url": "http://testserver/go/file/x/a.txt", "filename": "a.txt"}
    body = email_body(lead["id"], attachments=[item] * 1001)
    assert "attachments" in field_errors(await tenant.client.post("/activity/email/", json=body))


# Overload


@asynccontextmanager
async def held_creates(
    tenant: Tenant, lead_id: str
) -> AsyncIterator[list[asyncio.Task[httpx.Response]]]:
    """``IN_PROGRESS_LIMIT`` creates in progress until the block ends, then completed."""
    release = asyncio.Event()
    arrived = [asyncio.Event() for _ in range(IN_PROGRESS_LIMIT)]

    async def slow_body(arrival: asyncio.Event) -> AsyncIterator[bytes]:
        arrival.set()
        await release.wait()
        yield json.dumps(email_body(lead_id, subject="held")).encode()

    tasks = [
        asyncio.create_task(tenant.client.post("/activity/email/", content=slow_body(arrival)))
        for arrival in arrived
    ]
    await asyncio.gather(*(arrival.wait() for arrival in arrived))
    try:
        yield tasks
    finally:
        release.set()
        await asyncio.gather(*tasks)


async def test_request_beyond_the_limit_in_progress_gets_503_with_retry_after(busy: Tenant) -> None:
    lead = await create_lead(busy.client)
    async with held_creates(busy, lead["id"]):
        response = await busy.client.get("/me/")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert set(response.json()) == {"error"}


async def test_every_create_accepted_under_overload_keeps_its_email(busy: Tenant) -> None:
    lead = await create_lead(busy.client)
    async with held_creates(busy, lead["id"]) as held:
        refused = [
            await busy.client.post("/activity/email/", json=email_body(lead["id"]))
            for _ in range(3)
        ]
    assert [response.status_code for response in refused] == [503] * 3
    created = {ok(task.result())["id"] for task in held}
    listed = ok(await busy.client.get("/activity/email/", params={"lead_id": lead["id"]}))
    assert {email["id"] for email in listed["data"]} == created
    assert len(created) == IN_PROGRESS_LIMIT


@pytest.mark.parametrize("path", ["/t/o/token.gif", "/go/file/file_x/a.txt"])
async def test_tracking_pixel_and_downloads_count_too(
    busy: Tenant, busy_app: FastAPI, path: str
) -> None:
    lead = await create_lead(busy.client)
    transport = httpx.ASGITransport(app=busy_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as plain:
        async with held_creates(busy, lead["id"]):
            response = await plain.get(path)
    assert response.status_code == 503


async def test_requests_are_accepted_again_once_those_in_progress_finish(busy: Tenant) -> None:
    lead = await create_lead(busy.client)
    async with held_creates(busy, lead["id"]):
        pass
    ok(await busy.client.get("/me/"))


async def test_limit_body_answers_a_refusal_the_application_lets_through() -> None:
    async def reads_the_body(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

    limited = LimitBody(reads_the_body, max_bytes=10, max_json_depth=SMALL_DEPTH_LIMIT)
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post("/", content=Chunks([b"x" * 11]))
    assert (response.status_code, set(response.json())) == (413, {"error"})
