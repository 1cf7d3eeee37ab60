"""The API's errors and the one place that renders Close's error bodies.

Exception tree::

    PostroomError                   any error the API answers on purpose
    ├── ValidationFailed    (400)   {"errors": [...], "field-errors": {...}, "error": first}
    ├── Unauthorized        (401)   {"error": ...}
    ├── Forbidden           (403)
    ├── NotFound            (404)   {"error": "Empty query: <Model> matching query does not exist."}
    ├── MethodNotAllowed    (405)
    ├── Conflict            (409)
    ├── PayloadTooLarge     (413)
    └── ServiceUnavailable  (503)   with ``Retry-After``

``OverflowError`` (a date or number beyond what Python's datetime or the database can hold,
such as ``9999-12-31T23:00:00-05:00`` in UTC) is bad input too: a 400 with an ``errors`` message.

A request the database aborted to end a conflict with another (a deadlock, a serialization
failure, a lock it could not get: ``kit.sql.is_retryable``) changed nothing; it runs again
(``kit.routing``), and reaches this handler only when its fifth run was aborted too. The same
request sent again may still simply succeed: a 409 that says so.

A request whose database connection broke under it (the server restarted, or ended the
connection) changed nothing either, as the server rolled its transaction back: a 503 with
``Retry-After``, which the official client retries by itself. Only a connection lost under
the ``COMMIT`` leaves the outcome unknown (``kit.sql.CommitOutcomeUnknown``): that is a 500
saying so, as sending it again could make the change twice (docs/decisions.md).

Anything else reaching the handler is a bug: it is logged with the request id and answered
with a JSON 500.

``ERROR_RESPONSES`` documents these bodies in ``/openapi.json`` as every operation's ``4XX``
answer (which also keeps FastAPI from documenting a 422 that Postroom never sends).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from postroom.kit.responses import JSONResponse
from postroom.kit.sql import CommitOutcomeUnknown, is_connection_lost, is_retryable

logger = logging.getLogger("postroom.errors")


class PostroomError(Exception):
    """Base class: an expected failure with an HTTP status and a Close-style body."""

    status_code = 500
    headers: dict[str, str] = {}

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": self.message}


class ValidationFailed(PostroomError):
    """Bad input: messages not tied to a field in ``errors``, the rest in ``field_errors``."""

    status_code = 400

    def __init__(
        self,
        errors: Sequence[str] = (),
        field_errors: Mapping[str, str] | None = None,
    ) -> None:
        self.errors = list(errors)
        self.field_errors = dict(field_errors or {})
        super().__init__(self._first_message())

    @classmethod
    def field(cls, name: str, message: str) -> ValidationFailed:
        """One field error; ``lead_id`` is also reported under ``lead``, as Close does."""
        return cls(field_errors=with_aliases({name: message}))

    def _first_message(self) -> str:
        if self.errors:
            return self.errors[0]
        for name, message in self.field_errors.items():
            return f"{name}: {message}"
        return "Invalid request."

    def body(self) -> dict[str, Any]:
        return {"errors": self.errors, "field-errors": self.field_errors, "error": self.message}


class Unauthorized(PostroomError):
    status_code = 401
    headers = {"WWW-Authenticate": 'Basic realm="Postroom"'}


class Forbidden(PostroomError):
    status_code = 403


class NotFound(PostroomError):
    status_code = 404

    def __init__(self, model: str) -> None:
        super().__init__(f"Empty query: {model} matching query does not exist.")


class MethodNotAllowed(PostroomError):
    status_code = 405


class Conflict(PostroomError):
    status_code = 409


class PayloadTooLarge(PostroomError):
    status_code = 413


class ServiceUnavailable(PostroomError):
    status_code = 503
    headers = {"Retry-After": "1"}


class CloseErrorBody(BaseModel):
    """A 4xx body as ``/openapi.json`` describes it; a 400 always carries all three keys."""

    model_config = ConfigDict(populate_by_name=True)

    error: Any = Field(description="The message (on 400 the first one; on 429 an object).")
    errors: list[str] = Field(default_factory=list, description="400: messages about no field.")
    field_errors: dict[str, str] = Field(
        default_factory=dict, alias="field-errors", description="400: a message per field."
    )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": CloseErrorBody, "description": "Close's error body."},
}

OUT_OF_RANGE = "A date or number is out of the range Postroom can store."
CONNECTION_LOST = (
    "The database connection was lost under this request, which changed nothing; send it again."
)
COMMIT_UNKNOWN = (
    "The database connection was lost while this change was being saved: it may or may not "
    "have been saved. Read it back before sending it again."
)
COLLIDED = (
    "This request collided with another change of the same data and was undone, "
    "changing nothing; send it again."
)


def with_aliases(field_errors: Mapping[str, str]) -> dict[str, str]:
    """Copy ``lead_id`` errors to ``lead`` (Close's model name) as the spec asks."""
    result = dict(field_errors)
    if "lead_id" in result:
        result.setdefault("lead", result["lead_id"])
    return result


def request_validation_to_400(exc: RequestValidationError) -> ValidationFailed:
    """Turn FastAPI's 422 material into Close's 400: one message per offending field."""
    errors: list[str] = []
    field_errors: dict[str, str] = {}
    for problem in exc.errors():
        location = [str(part) for part in problem.get("loc", ())]
        message = _clean_message(str(problem.get("msg", "Invalid value.")))
        if problem.get("type") == "json_invalid":
            errors.append("Request body is not valid JSON.")
        elif len(location) >= 2 and location[0] in {"body", "query", "path", "header"}:
            field_errors.setdefault(location[1], message)
        else:
            errors.append("Request body must be a JSON object.")
    return ValidationFailed(errors, with_aliases(field_errors))


def _clean_message(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _render(error: PostroomError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status_code, headers=headers)


async def handle_postroom_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PostroomError)  # noqa: S101 - registered for this class only
    return _render(exc, exc.headers or None)


async def handle_request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    return _render(request_validation_to_400(exc))


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    message = str(exc.detail) if exc.detail else "Request failed."
    if exc.status_code == 400:
        return _render(ValidationFailed([message]), exc.headers)
    return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)


async def handle_overflow(request: Request, exc: Exception) -> JSONResponse:
    return _render(ValidationFailed([OUT_OF_RANGE]))


async def handle_database_error(request: Request, exc: Exception) -> JSONResponse:
    if is_retryable(exc):
        return _render(Conflict(COLLIDED))
    if is_connection_lost(exc):
        logger.warning("request %s lost its database connection", _request_id(request))
        error = ServiceUnavailable(CONNECTION_LOST)
        return _render(error, error.headers)
    return await handle_unexpected(request, exc)


async def handle_commit_outcome_unknown(request: Request, exc: Exception) -> JSONResponse:
    request_id = _request_id(request)
    logger.error("request %s lost its database connection under COMMIT", request_id)
    return JSONResponse(
        {"error": f"{COMMIT_UNKNOWN} (request id {request_id})"},
        status_code=500,
        headers={"x-request-id": request_id},
    )


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "-")


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = _request_id(request)
    logger.exception("unexpected error in request %s", request_id, exc_info=exc)
    return JSONResponse(
        {"error": f"Internal server error (request id {request_id})."},
        status_code=500,
        headers={"x-request-id": request_id},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that make every error a Close-style JSON body."""
    app.add_exception_handler(PostroomError, handle_postroom_error)
    app.add_exception_handler(RequestValidationError, handle_request_validation)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    app.add_exception_handler(OverflowError, handle_overflow)
    app.add_exception_handler(DBAPIError, handle_database_error)
    app.add_exception_handler(CommitOutcomeUnknown, handle_commit_outcome_unknown)
    app.add_exception_handler(Exception, handle_unexpected)
