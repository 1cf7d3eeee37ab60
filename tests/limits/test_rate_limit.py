"""Rate limiting per API key and endpoint group, in Close's format (spec §1, 429).

The limiter is tested with an injected clock; the app with a limit of 3 per hour-long window
(so no test straddles a window); the official client against a live server limited to 5
requests per 2-second window.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import closeio_api
import httpx
import pytest
from fastapi import FastAPI

from postroom.config import Settings
from postroom.kit.ratelimit import FixedWindowLimiter, endpoint_group
from tests.conftest import Tenant, create_tenant
from tests.limits import running_app
from tests.live import (
    create_user_and_key,
    free_port,
    running_server,
    server_environment,
)

LIMIT = 3
WINDOW_SECONDS = 3600.0
HEADER = re.compile(r"^limit=(\d+), remaining=(\d+), reset=(\d+)$")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# The limiter


def test_limiter_allows_the_limit_within_one_window() -> None:
    limiter = FixedWindowLimiter(3, 10.0, Clock(100.0))
    quotas = [limiter.take("key") for _ in range(3)]
    assert [quota.allowed for quota in quotas] == [True, True, True]
    assert [quota.remaining for quota in quotas] == [2, 1, 0]


def test_limiter_refuses_past_the_limit_without_counting_refusals() -> None:
    limiter = FixedWindowLimiter(1, 10.0, Clock(100.0))
    limiter.take("key")
    refused = [limiter.take("key") for _ in range(3)]
    assert {(quota.allowed, quota.remaining) for quota in refused} == {(False, 0)}


def test_limiter_starts_over_when_the_window_ends() -> None:
    clock = Clock(105.0)
    limiter = FixedWindowLimiter(1, 10.0, clock)
    limiter.take("key")
    clock.now = 110.0
    assert limiter.take("key").allowed


def test_reset_counts_whole_seconds_to_the_end_of_the_window() -> None:
    clock = Clock(101.5)
    limiter = FixedWindowLimiter(1, 10.0, clock)
    assert limiter.take("key").reset == 9
    clock.now = 109.9
    assert limiter.take("key").reset == 1


def test_limiter_counts_keys_apart() -> None:
    limiter = FixedWindowLimiter(1, 10.0, Clock(100.0))
    assert limiter.take("one").allowed
    assert limiter.take("two").allowed


@pytest.mark.parametrize(
    ("path", "group"),
    [
        ("/api/v1/lead/", "lead"),
        ("/api/v1/lead/lead_x/", "lead"),
        ("/api/v1/activity/email/", "activity/email"),
        ("/api/v1/activity/email/acti_x/", "activity/email"),
        ("/api/v1/activity/", "activity"),
        ("/api/v1/activity/emailthread/", "activity"),
        ("/t/o/token.gif", None),
    ],
)
def test_endpoint_group_is_the_first_segment_with_email_activities_apart(
    path: str, group: str | None
) -> None:
    assert endpoint_group(path, "/api/v1/") == group


# The app


@pytest.fixture(scope="module")
async def limited_app(settings: Settings) -> AsyncIterator[FastAPI]:
    changes = {"rate_limit_requests": LIMIT, "rate_limit_window_seconds": WINDOW_SECONDS}
    async with running_app(settings, **changes) as application:
        yield application


async def new_tenant(application: FastAPI) -> Tenant:
    return await create_tenant(application, application.state.database)


@pytest.fixture
async def limited(limited_app: FastAPI) -> AsyncIterator[Tenant]:
    created = await new_tenant(limited_app)
    yield created
    await created.client.aclose()


def rate_limit(response: httpx.Response) -> tuple[int, int, int]:
    found = HEADER.match(response.headers["RateLimit"])
    assert found is not None, response.headers["RateLimit"]
    limit, remaining, reset = (int(value) for value in found.groups())
    return limit, remaining, reset


async def use_up(client: httpx.AsyncClient, path: str) -> None:
    for _ in range(LIMIT):
        assert (await client.get(path)).status_code == 200


async def test_limited_responses_carry_the_ratelimit_header(limited: Tenant) -> None:
    responses = [await limited.client.get("/me/") for _ in range(LIMIT)]
    assert [rate_limit(response)[:2] for response in responses] == [(3, 2), (3, 1), (3, 0)]
    assert all(1 <= rate_limit(response)[2] <= WINDOW_SECONDS for response in responses)


async def test_request_over_the_limit_gets_429_with_a_numeric_retry_after(
    limited: Tenant,
) -> None:
    await use_up(limited.client, "/me/")
    response = await limited.client.get("/me/")
    assert response.status_code == 429
    limit, remaining, reset = rate_limit(response)
    assert (limit, remaining) == (LIMIT, 0)
    assert response.headers["Retry-After"] == str(reset)


async def test_429_body_is_closes_error_with_rate_reset(limited: Tenant) -> None:
    await use_up(limited.client, "/me/")
    response = await limited.client.get("/me/")
    body: dict[str, Any] = response.json()
    reset = int(response.headers["Retry-After"])
    assert body == {
        "error": {"message": body["error"]["message"], "rate_reset": reset},
        "rate_reset": reset,
    }
    assert body["error"]["message"]


async def test_endpoint_groups_are_counted_apart(limited: Tenant) -> None:
    await use_up(limited.client, "/lead/")
    assert (await limited.client.get("/lead/")).status_code == 429
    assert (await limited.client.get("/activity/email/")).status_code == 200
    assert (await limited.client.get("/activity/")).status_code == 200


async def test_api_keys_are_counted_apart(limited: Tenant, limited_app: FastAPI) -> None:
    await use_up(limited.client, "/me/")
    other = await new_tenant(limited_app)
    async with other.client:
        assert (await other.client.get("/me/")).status_code == 200


async def test_requests_without_an_api_key_are_not_limited(limited_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=limited_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        responses = [await client.get("/api/v1/me/") for _ in range(LIMIT + 1)]
    assert {response.status_code for response in responses} == {401}
    assert all("RateLimit" not in response.headers for response in responses)


async def test_rate_limiting_is_off_by_default(tenant: Tenant) -> None:
    responses = [await tenant.client.get("/me/") for _ in range(LIMIT + 1)]
    assert {response.status_code for response in responses} == {200}
    assert all("RateLimit" not in response.headers for response in responses)


# The official client against a live, rate-limited server

LIVE_LIMIT = 5
LIVE_WINDOW_SECONDS = 2
BURST = 12


@pytest.fixture(scope="module")
def live_client(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``closeio_api.Client`` on a server limited to 5 requests per 2 s (the package is untyped)."""
    folder: Path = tmp_path_factory.mktemp("live-rate-limit")
    port = free_port()
    environment = {
        **server_environment(database_url, folder, port),
        "POSTROOM_RATE_LIMIT_REQUESTS": str(LIVE_LIMIT),
        "POSTROOM_RATE_LIMIT_WINDOW_SECONDS": str(LIVE_WINDOW_SECONDS),
    }
    with running_server(environment, folder, port):
        _email, _organization, api_key = create_user_and_key(environment, folder)
        client = closeio_api.Client(api_key)
        client.base_url = f"http://127.0.0.1:{port}/api/v1/"
        yield client
        client.session.close()


@pytest.mark.slow
def test_official_client_finishes_a_burst_by_waiting_as_told(live_client: Any) -> None:
    started = time.monotonic()
    answers = [live_client.get("me") for _ in range(BURST)]
    elapsed = time.monotonic() - started
    assert len({answer["id"] for answer in answers}) == 1
    # 12 requests at 5 per window span three windows, so at least one whole window passed.
    assert elapsed > LIVE_WINDOW_SECONDS
