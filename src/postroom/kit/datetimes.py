"""Datetimes as Close writes and reads them, and a column type that keeps them in UTC.

Responses always carry microseconds and an explicit ``+00:00`` offset. Requests may send
``Z``, any offset, naive values (UTC, or local time when ``X-TZ-Offset`` is sent) and plain
dates.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def format_datetime(value: datetime | str | None) -> str | None:
    """Render ``value`` as ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00`` (None stays None); a value read
    as that text already (``UTCDateTimeText``) is returned as it is."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is not UTC:
        value = as_utc(value)
    return value.isoformat(timespec="microseconds")


def as_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC; a naive value is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_tz_offset(header: str | None) -> timezone | None:
    """Read the ``X-TZ-Offset`` header (hours as a float string, e.g. ``-0.0`` or ``5.5``);
    raise ``ValueError`` when it is there but not such a number: read as UTC, a naive
    ``date_scheduled`` would be sent hours early or late."""
    if header is None or not header.strip():
        return None
    hours = float(header)  # ValueError for "abc" or "5,5"
    if not -24 < hours < 24:  # also NaN and infinities
        raise ValueError(header)
    return timezone(timedelta(hours=hours))


def localize(value: datetime | date, tz: timezone | None) -> datetime:
    """Make a request datetime aware: naive values are in ``tz`` (or UTC), dates are midnight."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz or UTC)
    return value.astimezone(UTC)


def parse_datetime(text: str) -> datetime | date:
    """Parse an ISO 8601 datetime or a plain date; raise ``ValueError`` when it is neither."""
    text = text.strip()
    if len(text) == 10:
        return date.fromisoformat(text)
    return datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back aware UTC values.

    SQLite stores no offset, so values are written as naive UTC there and made aware again on
    the way out; PostgreSQL keeps ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        aware = as_utc(value)
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        """On SQLite, which hands back the stored text (``YYYY-MM-DD HH:MM:SS.ffffff``, naive
        UTC), one ``fromisoformat`` makes the aware value: a fifth of the cost of parsing and
        then ``replace(tzinfo=UTC)`` (a page of 100 emails reads 600 datetimes)."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return _aware_from_sqlite_text


def _aware_from_sqlite_text(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(f"{value}+00:00")


class UTCDateTimeText(TypeDecorator[str]):
    """A ``UTCDateTime`` column read straight as the API's text, for pages of emails, which
    show 600 datetimes and do nothing else with them. On SQLite the stored text
    (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC) only needs its ``T`` and offset: parsing and
    formatting each value was a tenth of a page. PostgreSQL writes the text itself
    (``ApiDatetimeText``): psycopg's datetimes, in the session's time zone, then moved to UTC
    and formatted, were a quarter of a page's query. Use with ``type_coerce`` on reads only."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def column_expression(self, colexpr: ColumnElement[Any]) -> ColumnElement[Any]:
        return ApiDatetimeText(colexpr)


class ApiText(TypeDecorator[str]):
    """What ``ApiDatetimeText`` hands back: PostgreSQL's text as it is, SQLite's stored text
    made the API's."""

    impl = String()
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        return _api_text_from_sqlite_text if dialect.name == "sqlite" else None


class ApiDatetimeText(FunctionElement[str]):
    """A datetime column as the API's text, written by the database where it can: PostgreSQL's
    ``to_char`` in UTC (``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``, as ``format_datetime``); on
    SQLite the stored text, finished by ``ApiText``'s result processor."""

    name = "api_datetime_text"
    type = ApiText()
    inherit_cache = True


@compiles(ApiDatetimeText)
def _column_itself(element: ApiDatetimeText, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(ApiDatetimeText, "postgresql")
def _postgres_to_char(element: ApiDatetimeText, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""


def _api_text_from_sqlite_text(value: str | None) -> str | None:
    if value is None:
        return None
    if "." not in value:  # no fraction: not written by Postroom, but still UTC
        value = f"{value}.000000"
    return f"{value.replace(' ', 'T', 1)}+00:00"
