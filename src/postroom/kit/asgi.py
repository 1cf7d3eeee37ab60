"""Small pure-ASGI middlewares: path normalization and request ids."""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from postroom.kit.responses import JSONResponse

_SLASHES = re.compile(r"/{2,}")


def normalized_path(path: str, prefix: str) -> str:
    """Collapse doubled slashes; give paths under ``prefix`` their final slash."""
    path = _SLASHES.sub("/", path)
    if path.startswith(prefix) and not path.endswith("/"):
        path += "/"
    return path


_JSON = (b"content-type", b"application/json")


def json_content_type(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Read API bodies as JSON whatever the client said, unless they are multipart uploads."""
    for name, value in headers:
        if name.lower() == b"content-type" and value.lower().startswith(b"multipart/"):
            return headers
    return [(name, value) for name, value in headers if name.lower() != b"content-type"] + [_JSON]


class NormalizePath:
    """Accept ``/api/v1/lead``, ``/api/v1/lead/`` and ``/api/v1//lead/`` alike.

    API request bodies are JSON, also when a client (``curl -d``) labels them as a form.
    """

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = normalized_path(scope["path"], self.prefix)
            if path != scope["path"]:
                scope = {**scope, "path": path, "raw_path": path.encode()}
            if path.startswith(self.prefix):
                scope = {**scope, "headers": json_content_type(list(scope["headers"]))}
        await self.app(scope, receive, send)


class RejectNul:
    """No NUL character reaches the database: a path with one names nothing (404), a query
    with one is bad input (400, in Close's error format)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            response = _nul_response(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _nul_response(scope: Scope) -> JSONResponse | None:
    if "\x00" in scope["path"]:
        return JSONResponse({"error": "Not Found"}, status_code=404)
    if b"%00" in scope.get("query_string", b"") or b"\x00" in scope.get("query_string", b""):
        message = "Query parameters may not contain NUL characters."
        body = {"errors": [message], "field-errors": {}, "error": message}
        return JSONResponse(body, status_code=400)
    return None


class RequestId:
    """Give every request an id (``X-Request-Id``), kept in ``request.state.request_id``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
