"""Close's event filters (developer.close.com, Webhook Filters), evaluated on events as a
webhook delivers them."""

from __future__ import annotations

from typing import Any

import pytest

from postroom.events.filters import filter_problem, matches

EVENT: dict[str, Any] = {
    "object_type": "activity.email",
    "action": "updated",
    "user_id": "user_N6KhMpzHRCYQHdn4gRNIFNN5JExnsrprKA6ekxM63XA",
    "lead_id": "lead_1",
    "changed_fields": ["status", "subject"],
    "data": {"status": "sent", "subject": "Pilot follow-up", "to": ["a@x.example"], "n": 2},
    "previous_data": {"status": "outbox", "subject": "Pilot"},
    "meta": {"request_method": "PUT"},
}


def field(name: str, inner: dict[str, Any]) -> dict[str, Any]:
    return {"type": "field_accessor", "field": name, "filter": inner}


def equals(value: Any) -> dict[str, Any]:
    return {"type": "equals", "value": value}


def test_a_field_of_the_event_equals_a_value() -> None:
    user = EVENT["user_id"]
    assert matches(field("user_id", equals(user)), EVENT)
    assert not matches(field("user_id", equals("user_other")), EVENT)


def test_nested_field_accessors_reach_into_data() -> None:
    assert matches(field("data", field("status", equals("sent"))), EVENT)
    assert not matches(field("previous_data", field("status", equals("sent"))), EVENT)


def test_contains_finds_an_item_of_an_array_or_part_of_a_string() -> None:
    assert matches(field("changed_fields", {"type": "contains", "value": "status"}), EVENT)
    assert not matches(field("changed_fields", {"type": "contains", "value": "body"}), EVENT)
    subject = field("data", field("subject", {"type": "contains", "value": "follow"}))
    assert matches(subject, EVENT)
    assert not matches(field("data", field("n", {"type": "contains", "value": "2"})), EVENT)


def test_null_checks_treat_a_missing_field_as_null() -> None:
    assert matches(field("contact_id", {"type": "is_null"}), EVENT)
    assert matches(field("lead_id", {"type": "non_null"}), EVENT)
    assert not matches(field("lead_id", {"type": "is_null"}), EVENT)
    assert matches(field("user_id", field("inner", {"type": "is_null"})), EVENT)


def test_and_or_not_combine_filters() -> None:
    sent = field("data", field("status", equals("sent")))
    by_api = field("meta", field("request_method", equals("POST")))
    assert not matches({"type": "and", "filters": [sent, by_api]}, EVENT)
    assert matches({"type": "or", "filters": [sent, by_api]}, EVENT)
    assert matches({"type": "not", "filter": by_api}, EVENT)
    assert matches(field("action", {"type": "not_equals", "value": "created"}), EVENT)


def test_any_array_value_matches_some_item() -> None:
    recipient = {"type": "any_array_value", "filter": {"type": "contains", "value": "@x."}}
    assert matches(field("data", field("to", recipient)), EVENT)
    assert not matches(field("lead_id", recipient), EVENT)


def test_equality_is_json_equality() -> None:
    assert matches(field("data", field("n", equals(2.0))), EVENT)
    assert not matches(equals(True), 1)
    assert not matches(equals(1), True)
    assert matches(equals({"a": [1, None]}), {"a": [1, None]})
    assert not matches(equals({"a": [1]}), {"a": [1], "b": 2})


def test_an_empty_filter_matches_everything() -> None:
    assert filter_problem(None) is None
    assert filter_problem({}) is None
    assert matches({}, EVENT)
    assert matches(None, EVENT)


@pytest.mark.parametrize(
    ("node", "says"),
    [
        ({"type": "like", "value": "x"}, "unknown type 'like'"),
        ({"value": "x"}, "unknown type None"),
        ({"type": "equals"}, "needs a value"),
        ({"type": "and", "filters": []}, "non-empty list"),
        ({"type": "or", "filters": "x"}, "non-empty list"),
        ({"type": "not"}, "filter.filter must be an object"),
        ({"type": "field_accessor", "filter": {"type": "is_null"}}, "needs a field name"),
        (field("data", {}), "unknown type None"),
        ({"type": "and", "filters": [{"type": "is_null"}, 3]}, "filter.filters[1] must be"),
        ("equals", "must be an object"),
    ],
)
def test_a_malformed_filter_is_named(node: Any, says: str) -> None:
    problem = filter_problem(node)
    assert problem is not None
    assert says in problem


def test_a_filter_too_deep_is_refused() -> None:
    node: dict[str, Any] = {"type": "is_null"}
    for _ in range(40):
        node = {"type": "not", "filter": node}
    problem = filter_problem(node)
    assert problem is not None
    assert "deeper" in problem
