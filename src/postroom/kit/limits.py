"""Pure-ASGI limits on what one request may cost: body size, JSON nesting, requests in progress.

- ``LimitBody``: a body whose ``Content-Length`` is over the limit gets 413 before any of it is
  read; a streamed (chunked) body gets 413 as soon as it grows past the limit. A JSON body
  nested deeper than the limit gets a Close-style 400 while it arrives, before it is parsed.
- ``LimitConcurrency``: above a number of requests in progress, new ones get 503 with
  ``Retry-After: 1`` and nothing is done for them. Every request counts, the tracking pixel and
  downloads included; the count is per server process. The official client retries 503 on
  every method. A request admitted but then kept waiting for a database connection longer
  than the pool's timeout (SQLAlchemy's ``TimeoutError``: the server is slower than the limit
  assumes) gets the same 503 if its answer has not started: its session never got a
  connection, so nothing was done for it either.

Refusals raised while the application reads the body are ``HTTPException`` subclasses, so
FastAPI's body reader passes them on to the error handlers, which render Close's bodies.
"""

from __future__ import annotations

import logging
from itertools import accumulate

from fastapi import FastAPI
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from postroom.config import Settings
from postroom.errors import ValidationFailed
from postroom.kit.ratelimit import FixedWindowLimiter, RateLimit
from postroom.kit.responses import JSONResponse

logger = logging.getLogger("postroom.limits")

_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in _BRACKETS)
_STEPS = bytes.maketrans(_BRACKETS, b"\x01\xff\x01\xff")
"""Openers become 1 and closers -1 (as signed bytes)."""
_OPEN = 1
_CLOSE = 255


class BodyRefused(HTTPException):
    """A body refused while it was being read."""

    def response(self) -> JSONResponse:
        if self.status_code == 400:
            return JSONResponse(ValidationFailed([self.detail]).body(), status_code=400)
        return JSONResponse({"error": self.detail}, status_code=self.status_code)


class BodyTooLarge(BodyRefused):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Request body is larger than {max_bytes} bytes.")


class JsonTooDeep(BodyRefused):
    def __init__(self, max_depth: int) -> None:
        super().__init__(400, f"JSON body is nested deeper than {max_depth} levels.")


class JsonDepthGauge:
    """The deepest nesting of ``[``/``{`` in a JSON text fed in chunks, strings left out.

    Escaped backslashes and quotes are removed first (in JSON a backslash only occurs inside
    strings), so every quote left opens or closes a string; the text between strings is reduced
    to its brackets, which are summed with ``itertools.accumulate``. The work per byte happens
    in C. The text is not validated: the JSON parser does that later.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.deepest = 0
        self._in_string = False
        self._pending = b""
        """A backslash that ended the previous chunk: it escapes the next chunk's first byte."""

    def feed(self, chunk: bytes) -> int:
        """Take the next chunk; return the deepest nesting seen so far."""
        text = _without_escapes(self._pending + chunk)
        self._pending = b""
        if text.endswith(b"\\"):
            text, self._pending = text[:-1], b"\\"
        parts = text.split(b'"')
        self._count(b"".join(parts[1::2] if self._in_string else parts[::2]))
        self._in_string ^= len(parts) % 2 == 0
        return self.deepest

    def _count(self, structure: bytes) -> None:
        steps = structure.translate(_STEPS, _NOT_BRACKETS)
        openers = steps.count(_OPEN)
        if self.depth + openers > self.deepest:
            depths = accumulate(memoryview(steps).cast("b"), initial=self.depth)
            self.deepest = max(self.deepest, max(depths))
        self.depth += openers - steps.count(_CLOSE)


def _without_escapes(text: bytes) -> bytes:
    """``text`` without escaped backslashes, then without escaped quotes."""
    return text.replace(b"\\\\", b"").replace(b'\\"', b"")


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value)
    return None


def declared_length(scope: Scope) -> int | None:
    """The ``Content-Length`` of the request, or None when absent or malformed."""
    value = header(scope, b"content-length")
    return int(value) if value is not None and value.isdigit() else None


def is_json(scope: Scope) -> bool:
    """JSON, or no content type at all (multipart uploads and forms are not)."""
    value = header(scope, b"content-type")
    if value is None:
        return True
    media_type = value.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or media_type.endswith(b"+json")


class _BodyReader:
    """``receive`` that counts the body's bytes and, for JSON, follows its nesting."""

    def __init__(self, receive: Receive, max_bytes: int, max_depth: int | None) -> None:
        self._receive = receive
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.received = 0
        self.gauge = JsonDepthGauge()

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._check(message.get("body", b""))
        return message

    def _check(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.max_bytes:
            raise BodyTooLarge(self.max_bytes)
        if self.max_depth is not None and self.gauge.feed(chunk) > self.max_depth:
            raise JsonTooDeep(self.max_depth)


class LimitBody:
    """413 for bodies over ``max_bytes``; 400 for JSON nested deeper than ``max_json_depth``."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_json_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = declared_length(scope)
        if length is not None and length > self.max_bytes:
            await BodyTooLarge(self.max_bytes).response()(scope, receive, send)
            return
        depth = self.max_json_depth if is_json(scope) else None
        reader = _BodyReader(receive, self.max_bytes, depth)
        await _refusing(self.app, scope, reader.receive, send)


class _StartTracker:
    """``send`` that notes whether the response has started."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def send(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)


async def _refusing(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run ``app``; answer a ``BodyRefused`` that reached us, if no response started yet."""
    tracker = _StartTracker(send)
    try:
        await app(scope, receive, tracker.send)
    except BodyRefused as refusal:
        if tracker.started:
            raise
        await refusal.response()(scope, receive, send)


class LimitConcurrency:
    """503 with ``Retry-After: 1`` while ``max_requests`` requests are in progress."""

    def __init__(self, app: ASGIApp, max_requests: int) -> None:
        self.app = app
        self.max_requests = max_requests
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.in_progress >= self.max_requests:
            await overloaded()(scope, receive, send)
            return
        self.in_progress += 1
        tracker = _StartTracker(send)
        try:
            await self.app(scope, receive, tracker.send)
        except PoolTimeout:
            if tracker.started:
                raise
            logger.warning("%s %s refused: no database connection in time", *_request_line(scope))
            await overloaded()(scope, receive, send)
        finally:
            self.in_progress -= 1


def _request_line(scope: Scope) -> tuple[str, str]:
    return scope.get("method", "-"), scope.get("path", "-")


def overloaded() -> JSONResponse:
    message = "The server is busy; try again in a second."
    return JSONResponse({"error": message}, status_code=503, headers={"Retry-After": "1"})


def install_limits(app: FastAPI, settings: Settings, api_prefix: str) -> None:
    """Add the limits; from the outside in: requests in progress, rate (if on), body."""
    app.add_middleware(
        LimitBody, max_bytes=settings.max_request_bytes, max_json_depth=settings.max_json_depth
    )
    if settings.rate_limit_requests:
        limiter = FixedWindowLimiter(
            settings.rate_limit_requests, settings.rate_limit_window_seconds
        )
        app.add_middleware(RateLimit, limiter=limiter, prefix=api_prefix)
    app.add_middleware(LimitConcurrency, max_requests=settings.max_concurrent_requests)
