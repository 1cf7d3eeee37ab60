"""Close's event filters: JSON conditions a webhook subscription puts on the events it receives
(the subscription's ``event_filter``, and each subscribed event's ``extra_filter``).

A filter is a tree of nodes ``{"type": ..., ...}`` matched against the event as a webhook
delivers it (``events.schemas.render_event``), as Close documents them:

- ``equals`` / ``not_equals`` ``value``: the whole value is (is not) the given JSON value;
- ``is_null`` / ``non_null``: the value is (is not) null;
- ``contains`` ``value``: an array holds the value, or a string holds it as a substring;
- ``and`` / ``or`` ``filters``: every one (at least one) of the filters matches;
- ``not`` ``filter``: the filter does not match;
- ``field_accessor`` ``field`` ``filter``: the filter matches the value of that field of an
  object (a missing field, or a value that is not an object, is null);
- ``any_array_value`` ``filter``: the filter matches some item of an array.

An empty filter (``{}`` or ``null``) matches everything. A malformed one is refused when the
subscription is written (``filter_problem``), never while events are recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

MAX_DEPTH = 32
MAX_NODES = 1000

VALUE_TYPES = frozenset({"equals", "not_equals", "contains"})
NULL_TYPES = frozenset({"is_null", "non_null"})
LIST_TYPES = frozenset({"and", "or"})
NESTING_TYPES = frozenset({"not", "field_accessor", "any_array_value"})
TYPES = VALUE_TYPES | NULL_TYPES | LIST_TYPES | NESTING_TYPES


class FilterProblem(ValueError):
    """Why a filter cannot be evaluated."""


def filter_problem(node: Any) -> str | None:
    """Why ``node`` is not a filter Postroom can evaluate, or None when it is one."""
    if node is None or node == {}:
        return None
    try:
        _check(node, "filter", depth=0, budget=[MAX_NODES])
    except FilterProblem as problem:
        return str(problem)
    return None


def _check(node: Any, where: str, depth: int, budget: list[int]) -> None:
    budget[0] -= 1
    if depth > MAX_DEPTH or budget[0] < 0:
        raise FilterProblem(f"the filter is nested deeper than {MAX_DEPTH} or too large.")
    if not isinstance(node, Mapping):
        raise FilterProblem(f"{where} must be an object with a type.")
    kind = node.get("type")
    if kind not in TYPES:
        raise FilterProblem(
            f"{where} has an unknown type {kind!r}: one of {', '.join(sorted(TYPES))}."
        )
    if kind in VALUE_TYPES and "value" not in node:
        raise FilterProblem(f"{where} ({kind}) needs a value.")
    if kind in LIST_TYPES:
        filters = node.get("filters")
        if not isinstance(filters, list) or not filters:
            raise FilterProblem(f"{where} ({kind}) needs a non-empty list of filters.")
        for index, child in enumerate(filters):
            _check(child, f"{where}.filters[{index}]", depth + 1, budget)
    if kind == "field_accessor":
        field = node.get("field")
        if not isinstance(field, str) or not field:
            raise FilterProblem(f"{where} (field_accessor) needs a field name.")
    if kind in NESTING_TYPES:
        _check(node.get("filter"), f"{where}.filter", depth + 1, budget)


def matches(node: Mapping[str, Any] | None, value: Any) -> bool:
    """Whether ``value`` (JSON: dicts, lists, strings, numbers, booleans, None) passes the
    filter ``node`` (one ``filter_problem`` accepted)."""
    if not node:
        return True
    return _MATCHERS[node["type"]](node, value)


def _same(left: Any, right: Any) -> bool:
    """JSON equality: ``true`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[key], right[key]) for key in left)
    return bool(left == right)


def _contains(node: Mapping[str, Any], value: Any) -> bool:
    wanted = node["value"]
    if isinstance(value, list):
        return any(_same(item, wanted) for item in value)
    if isinstance(value, str) and isinstance(wanted, str):
        return wanted in value
    return False


def _field(node: Mapping[str, Any], value: Any) -> Any:
    return value.get(node["field"]) if isinstance(value, Mapping) else None


_MATCHERS: dict[str, Callable[[Mapping[str, Any], Any], bool]] = {
    "equals": lambda node, value: _same(value, node["value"]),
    "not_equals": lambda node, value: not _same(value, node["value"]),
    "is_null": lambda node, value: value is None,
    "non_null": lambda node, value: value is not None,
    "contains": _contains,
    "and": lambda node, value: all(matches(child, value) for child in node["filters"]),
    "or": lambda node, value: any(matches(child, value) for child in node["filters"]),
    "not": lambda node, value: not matches(node["filter"], value),
    "field_accessor": lambda node, value: matches(node["filter"], _field(node, value)),
    "any_array_value": lambda node, value: (
        isinstance(value, list) and any(matches(node["filter"], item) for item in value)
    ),
}
