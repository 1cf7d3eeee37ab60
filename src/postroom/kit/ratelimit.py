"""Rate limiting per API key and endpoint group, in Close's format.

A fixed window counter kept in memory: every ``window_seconds`` (windows are aligned on the
clock, so all keys start a new window together and the old counts are dropped at once) each
(API key, endpoint group) may make ``limit`` requests. The counters live in the server process:
with several processes a key may make up to ``limit`` requests per window in each of them, and a
restart forgets them. Turned on by ``POSTROOM_RATE_LIMIT_REQUESTS`` (0, the default, is off).

Every limited response carries ``RateLimit: limit=N, remaining=N, reset=N`` (``reset``: whole
seconds until the window ends, at least 1). A request over the limit is answered 429 with a
numeric ``Retry-After`` and ``{"error": {"message", "rate_reset"}, "rate_reset"}``; it does not
count. The official client sleeps ``reset`` seconds and tries again.

The group is the first path segment after ``/api/v1/`` (``lead``, ``contact``, ``activity``),
except ``activity/email``, which is a group of its own. Requests without an API key (signed
uploads, the tracking pixel, unauthenticated calls that get a 401) are not limited.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from postroom.kit.responses import JSONResponse
from postroom.users.auth import api_key_from_header, hash_api_key

Clock = Callable[[], float]


@dataclass(frozen=True)
class Quota:
    """What a request left of its window."""

    allowed: bool
    limit: int
    remaining: int
    reset: int

    def header(self) -> str:
        return f"limit={self.limit}, remaining={self.remaining}, reset={self.reset}"


class FixedWindowLimiter:
    """At most ``limit`` requests per key in each window of ``window_seconds``."""

    def __init__(self, limit: int, window_seconds: float, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.clock = clock
        self._window_start = -math.inf
        self._counts: dict[Hashable, int] = {}

    def take(self, key: Hashable) -> Quota:
        """Count one request for ``key`` if the window allows it."""
        now = self.clock()
        self._roll(now)
        used = self._counts.get(key, 0)
        allowed = used < self.limit
        if allowed:
            used += 1
            self._counts[key] = used
        return Quota(allowed, self.limit, self.limit - used, self._reset(now))

    def _roll(self, now: float) -> None:
        start = math.floor(now / self.window_seconds) * self.window_seconds
        if start != self._window_start:
            self._window_start = start
            self._counts.clear()

    def _reset(self, now: float) -> int:
        return max(1, math.ceil(self._window_start + self.window_seconds - now))


def endpoint_group(path: str, prefix: str) -> str | None:
    """``lead`` for ``/api/v1/lead/x/``, ``activity/email`` for its paths; None off the API."""
    if not path.startswith(prefix):
        return None
    segments = [segment for segment in path[len(prefix) :].split("/") if segment]
    if not segments:
        return ""
    if segments[:2] == ["activity", "email"]:
        return "activity/email"
    return segments[0]


def limit_key(scope: Scope, prefix: str) -> tuple[str, str] | None:
    """(hash of the API key, endpoint group), or None when the request is not limited."""
    group = endpoint_group(scope["path"], prefix)
    if group is None:
        return None
    authorization = next(
        (value for name, value in scope["headers"] if name.lower() == b"authorization"), None
    )
    api_key = api_key_from_header(authorization.decode("latin-1") if authorization else None)
    return None if api_key is None else (hash_api_key(api_key), group)


def too_many_requests(quota: Quota) -> JSONResponse:
    message = f"API call count exceeded for this period; try again in {quota.reset} s."
    body = {"error": {"message": message, "rate_reset": quota.reset}, "rate_reset": quota.reset}
    headers = {"RateLimit": quota.header(), "Retry-After": str(quota.reset)}
    return JSONResponse(body, status_code=429, headers=headers)


class RateLimit:
    """Apply ``limiter`` per (API key, endpoint group) to requests under ``prefix``."""

    def __init__(self, app: ASGIApp, limiter: FixedWindowLimiter, prefix: str) -> None:
        self.app = app
        self.limiter = limiter
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = limit_key(scope, self.prefix) if scope["type"] == "http" else None
        if key is None:
            await self.app(scope, receive, send)
            return
        quota = self.limiter.take(key)
        if not quota.allowed:
            await too_many_requests(quota)(scope, receive, send)
            return
        await self.app(scope, receive, _with_header(send, quota))


def _with_header(send: Send, quota: Quota) -> Send:
    async def send_with_header(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", []), (b"ratelimit", quota.header().encode())]
            message = {**message, "headers": headers}
        await send(message)

    return send_with_header
