"""``RetryingRoute``: a request the database aborted to end a conflict runs again.

PostgreSQL ends a deadlock, a serialization failure or a lock it could not get by aborting one
of the transactions (SQLite: "database is locked"; ``kit.sql.is_retryable``). That request's
transaction is rolled back whole, so it changed nothing, and it is run again from the start
(``kit.sql.retrying``: up to 5 runs, 10, 20, 30, 40 ms apart) before the error handler
answers 409. Each run solves the dependencies afresh (a new session, a new caller, the body
Starlette keeps once read validated again) and closes its ``scope="function"`` dependencies
itself: the session is committed inside the run, so a ``COMMIT`` the database refuses runs
the request again too. No response has started when a run is aborted: it is sent after the
handler returns.

A connection lost under the ``COMMIT`` (``CommitOutcomeUnknown``) is no ``DBAPIError``: the
outcome is unknown, and it is never run again.

A route that reads its body as a stream (the signed file upload) cannot be run again: its bytes
are gone. Such a route keeps FastAPI's plain ``APIRoute``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from postroom.kit.sql import retrying

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

FUNCTION_STACK = "fastapi_function_astack"
"""Where FastAPI keeps the exit stack of a request's ``scope="function"`` dependencies."""


class RetryingRoute(APIRoute):
    """An API route whose request runs again after its transaction was aborted."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def run_until_not_aborted(request: Request) -> Response:
            return await retrying(lambda: run_once(handler, request))

        return run_until_not_aborted


async def run_once(handler: Handler, request: Request) -> Response:
    """One run of ``handler`` whose function-scoped dependencies (the session) are closed, so
    committed or rolled back, before it returns. Should FastAPI ever keep that stack under
    another name, the run still works: its dependencies are then closed by FastAPI after the
    last run, and only aborts inside the handler run it again."""
    outer = request.scope.get(FUNCTION_STACK)
    try:
        async with AsyncExitStack() as dependencies:
            request.scope[FUNCTION_STACK] = dependencies
            return await handler(request)
    finally:
        if outer is None:
            request.scope.pop(FUNCTION_STACK, None)
        else:
            request.scope[FUNCTION_STACK] = outer
