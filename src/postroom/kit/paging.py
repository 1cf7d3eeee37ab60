"""Close's list conventions: ``_skip``/``_limit`` paging, exact ``has_more``, ``_fields``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query

MAX_LIMIT = 100
MAX_SKIP = 1_000_000_000

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    skip: int
    limit: int


async def page_request(
    skip: Annotated[
        int, Query(alias="_skip", ge=0, le=MAX_SKIP, description="Results to skip.")
    ] = 0,
    limit: Annotated[
        int, Query(alias="_limit", ge=0, le=MAX_LIMIT, description="Results to return (≤ 100).")
    ] = MAX_LIMIT,
) -> PageRequest:
    return PageRequest(skip=skip, limit=limit)


async def field_selection(
    fields: Annotated[
        str | None, Query(alias="_fields", description="Comma-separated fields to return.")
    ] = None,
) -> frozenset[str] | None:
    if fields is None or not fields.strip():
        return None
    return frozenset(name.strip() for name in fields.split(",") if name.strip())


PageDep = Annotated[PageRequest, Depends(page_request)]
FieldsDep = Annotated[frozenset[str] | None, Depends(field_selection)]


def select_fields(document: dict[str, Any], fields: frozenset[str] | None) -> dict[str, Any]:
    """Keep only the requested fields of one response object."""
    if fields is None:
        return document
    return {name: value for name, value in document.items() if name in fields}


def page_body(
    rows: Sequence[T],
    page: PageRequest,
    render: Callable[[T], dict[str, Any]],
    fields: frozenset[str] | None,
) -> dict[str, Any]:
    """``{"data": [...], "has_more": bool}`` from rows fetched with ``limit + 1``."""
    shown: Iterable[T] = rows[: page.limit]
    data = [select_fields(render(row), fields) for row in shown]
    return {"data": data, "has_more": len(rows) > page.limit}


def split_csv(value: str | None) -> list[str] | None:
    """A comma-separated filter value as a list (None when absent or empty)."""
    if value is None:
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or None
