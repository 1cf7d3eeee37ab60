"""Overload (issue #7, point 9): offered 4x what it sustains, the server slows down or answers
503 with ``Retry-After``, loses no accepted email and keeps its memory bounded.

The first test runs the short form of bench/overload.py (a real ``postroom serve`` on SQLite,
wrk for the sustained rate R, then an open-loop generator at 4 R for 3 s with the in-progress
limit lowered to 32). It asserts nothing about speed: only answers, losses, duplicates and RSS.
The others pin the guard's answer when a request admitted under the limit then waits too long
for a database connection.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import Receive, Scope, Send

from postroom.kit.limits import LimitConcurrency
from tests.bench_tools import needs_bench_tools, run_smoke

RESULT_LINE = re.compile(r"^overload sqlite: (.*)$", re.MULTILINE)
FIGURE = re.compile(r"(\w+)=([\d.]+)")
MAX_RSS_MB = 300


def figures(output: str) -> dict[str, float]:
    line = RESULT_LINE.search(output)
    assert line is not None, output
    return {name: float(value) for name, value in FIGURE.findall(line.group(1))}


@pytest.mark.slow
@needs_bench_tools
def test_overload_loses_nothing_and_refuses_only_with_503_and_retry_after(
    tmp_path: Path,
) -> None:
    report = tmp_path / "overload.md"
    completed = run_smoke("overload.py", report, timeout=180)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    found = figures(completed.stdout)
    assert found["2xx"] > 0, output
    assert found["other"] == 0, output
    assert found["bad_retry_after"] == 0, output
    assert found["lost"] == 0, output
    assert found["duplicates"] == 0, output
    assert found["peak_rss"] < MAX_RSS_MB, output
    assert "| sqlite | 32 |" in report.read_text()


async def waits_for_a_connection_too_long(scope: Scope, receive: Receive, send: Send) -> None:
    raise PoolTimeout("QueuePool limit of size 10 overflow 5 reached, connection timed out")


async def answers_then_times_out(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    raise PoolTimeout("QueuePool limit of size 10 overflow 5 reached, connection timed out")


def client_of(guard: LimitConcurrency) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://test")


async def test_no_connection_in_time_is_a_503_with_retry_after() -> None:
    guard = LimitConcurrency(waits_for_a_connection_too_long, max_requests=4)
    async with client_of(guard) as client:
        response = await client.post("/api/v1/activity/email/", json={})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert set(response.json()) == {"error"}
    assert guard.in_progress == 0


async def test_no_connection_after_the_answer_started_is_not_hidden() -> None:
    guard = LimitConcurrency(answers_then_times_out, max_requests=4)
    async with client_of(guard) as client:
        with pytest.raises(PoolTimeout):
            await client.get("/api/v1/me/")
    assert guard.in_progress == 0
