"""JSON for responses and JSON columns: encoded by orjson, decoded by pydantic-core.

A page of 100 emails is about 390 KB of JSON and every email row holds nine JSON columns: the
stdlib spent about a third of a list request encoding and decoding them. pydantic-core (Rust)
took 330 µs to encode a page, orjson (Rust) takes 70 µs. The output is the same JSON either
way (compact, UTF-8, not ASCII-escaped).

orjson writes only JSON's own types here (str, int, float, bool, None, dict with str keys,
list, tuple, and their subclasses such as str enums). A datetime, date, dataclass or anything
else it would write its own way, an integer beyond 64 bits, or a non-str key goes on to
pydantic-core, as before; what pydantic-core refuses (a lone surrogate, which requests cannot
bring in) to the stdlib, ASCII-escaped. NaN and infinities, which JSON cannot carry, become
null on every path. Decoding stays with pydantic-core, which keeps big integers exact.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
from pydantic_core import PydanticSerializationError, from_json, to_json
from sqlalchemy import ColumnElement, String
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

Fragment = orjson.Fragment
"""JSON text that ``dumps`` writes as it is, unparsed (``orjson.Fragment``)."""

JSON_TYPES_ONLY = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
"""orjson refuses the types it would write otherwise than pydantic-core (no ``default``)."""


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON bytes."""
    try:
        return orjson.dumps(value, option=JSON_TYPES_ONLY)
    except orjson.JSONEncodeError:
        pass
    try:
        return to_json(value, inf_nan_mode="null")
    except PydanticSerializationError:
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def dumps_text(value: Any) -> str:
    """Compact JSON text, for JSON columns."""
    return dumps(value).decode("utf-8")


def loads(text: str | bytes) -> Any:
    """Parse JSON text (JSON columns), big integers kept exact."""
    return from_json(text)


class JSONFragmentRead(TypeDecorator[Any]):
    """A JSON column read as its stored JSON text, wrapped in a ``Fragment`` that ``dumps``
    writes out unparsed: for pages of emails, which show eight JSON columns of 100 rows as
    they are. Decoding them (three Python calls and a parse per value) and encoding them again
    was a sixth of a page request. SQL NULL reads as ``null``. PostgreSQL's text of a
    ``jsonb`` value has a space after each ``,`` and ``:``, the same JSON. Use with
    ``type_coerce`` on reads only; only ``dumps``'s first writer (orjson) knows fragments."""

    impl = String()
    cache_ok = True

    def column_expression(self, colexpr: ColumnElement[Any]) -> ColumnElement[Any]:
        return JSONColumnText(colexpr)


class FragmentText(TypeDecorator[Any]):
    """What ``JSONColumnText`` hands back: the text, as a ``Fragment``."""

    impl = String()
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        return Fragment


class JSONColumnText(FunctionElement[Any]):
    """A JSON column's text, never NULL. The cast is for PostgreSQL's ``jsonb``; on SQLite it
    also turns a bare number, which a ``JSON`` column's numeric affinity stores as a number,
    back into its text."""

    name = "json_column_text"
    type = FragmentText()
    inherit_cache = True


@compiles(JSONColumnText)
def _column_text(element: JSONColumnText, compiler: SQLCompiler, **kw: Any) -> str:
    return f"coalesce(CAST({compiler.process(element.clauses, **kw)} AS TEXT), 'null')"
