"""Small pure-ASGI middlewares: path normalization and request ids."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

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
        return _bad_request("Query parameters may not contain NUL characters.")
    return None


OVERRIDE_HEADER = b"x-http-method-override"
OVERRIDABLE = ("GET", "PUT", "DELETE", "POST")


def _bad_request(message: str) -> JSONResponse:
    """Close's 400, for a message not tied to a field."""
    body = {"errors": [message], "field-errors": {}, "error": message}
    return JSONResponse(body, status_code=400)


class MethodOverride:
    """Close's ``x-http-method-override``: a POST under ``prefix`` carrying it is served as the
    method it names (``GET``, ``PUT``, ``DELETE``; ``POST`` changes nothing), for clients
    that cannot send those methods or URLs long enough for their filters. Served as ``GET``,
    its JSON body's ``_params`` object is added to the query string ("parameters can also be
    specified in a JSON-encoded dictionary in the request body under the ``_params`` key"):
    a list value is the parameter repeated, a number or boolean its JSON text. Anything else
    (another method, a body that is not an object, ``_params`` not an object of such values)
    is a 400 in Close's format, and nothing runs. The header is ignored on other methods.
    Inside ``LimitBody``, so the body read here is limited like any other."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        override = _override(scope, self.prefix)
        if override is None or override == "POST":
            await self.app(scope, receive, send)
            return
        if override not in OVERRIDABLE:
            message = f"x-http-method-override must be one of GET, PUT, DELETE, not {override!r}."
            await _bad_request(message)(scope, receive, send)
            return
        if override != "GET":
            await self.app({**scope, "method": override}, receive, send)
            return
        body = await _whole_body(receive)
        try:
            query = _params_query(body)
        except ValueError as problem:
            await _bad_request(str(problem))(scope, receive, send)
            return
        joined = b"&".join(part for part in (scope.get("query_string", b""), query) if part)
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        scope = {**scope, "method": "GET", "query_string": joined, "headers": headers}
        refused = _nul_response(scope)
        if refused is not None:
            await refused(scope, receive, send)
            return
        await self.app(scope, _empty_body(receive), send)


def _override(scope: Scope, prefix: str) -> str | None:
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    if not scope["path"].startswith(prefix):
        return None
    for name, value in scope["headers"]:
        if name.lower() == OVERRIDE_HEADER:
            return bytes(value).decode("latin-1").strip().upper()
    return None


async def _whole_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _empty_body(receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    return replay


_PARAMS_SHAPE = (
    "_params must be an object whose values are strings, numbers, booleans or lists of them."
)


def _params_query(body: bytes) -> bytes:
    """The query string of a body's ``_params`` (an empty body, or none, adds nothing)."""
    if not body.strip():
        return b""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("The request body is not valid JSON.") from None
    if not isinstance(document, dict):
        raise ValueError("The request body must be a JSON object.")
    params = document.get("_params", {})
    if not isinstance(params, dict):
        raise ValueError(_PARAMS_SHAPE)
    pairs = [(str(name), text) for name, value in params.items() for text in _texts(value)]
    return urlencode(pairs).encode()


def _texts(value: Any) -> Sequence[str]:
    items = value if isinstance(value, list) else [value]
    texts = []
    for item in items:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, bool | int | float):
            texts.append(json.dumps(item))
        else:
            raise ValueError(_PARAMS_SHAPE)
    return texts


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
