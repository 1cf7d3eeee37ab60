"""Responses and JSON columns are encoded by pydantic-core: the same JSON the stdlib wrote."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from pydantic_core import to_json

from postroom.kit import jsoncodec

DOCUMENT = {
    "id": "acti_1",
    "subject": 'Grüße — 你好 \u2028 "quoted" \\ back',
    "to": ["a@example.com"],
    "envelope": {"message_id": "<x@y>", "size": 123456789012345678901234567890},
    "opens": [],
    "has_reply": False,
    "send_in": None,
    "ratio": 0.25,
}


def test_output_is_the_compact_utf8_json_the_stdlib_writes() -> None:
    expected = json.dumps(DOCUMENT, ensure_ascii=False, separators=(",", ":")).encode()
    assert jsoncodec.dumps(DOCUMENT) == expected


def test_integers_beyond_64_bits_survive_both_ways() -> None:
    text = jsoncodec.dumps_text(DOCUMENT)
    assert jsoncodec.loads(text) == DOCUMENT
    assert jsoncodec.loads(text.encode())["envelope"]["size"] == 123456789012345678901234567890


def test_nan_and_infinity_become_null_instead_of_invalid_json() -> None:
    encoded = jsoncodec.dumps({"a": float("nan"), "b": float("inf")})
    assert json.loads(encoded) == {"a": None, "b": None}


def test_what_pydantic_core_refuses_goes_through_the_stdlib() -> None:
    lone_surrogate = "\ud800"
    assert jsoncodec.dumps({"text": lone_surrogate}) == b'{"text":"\\ud800"}'


def test_what_orjson_would_write_its_own_way_is_written_as_before() -> None:
    moment = datetime(2026, 11, 26, 14, 3, 5, tzinfo=UTC)
    assert jsoncodec.dumps({"at": moment}) == to_json({"at": moment})
    assert jsoncodec.dumps({1: "a"}) == to_json({1: "a"})
    assert jsoncodec.dumps([2**64]) == b"[18446744073709551616]"


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@given(JSON_VALUES)
def test_any_json_value_is_written_as_the_stdlib_writes_it(value: object) -> None:
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    written = jsoncodec.dumps(value)
    assert json.loads(written) == json.loads(expected)
    if not _has_float(value):
        assert written == expected.encode()


def _has_float(value: object) -> bool:
    """Floats may be written with another shortest form (1e16 against 1e+16): same number."""
    if isinstance(value, float):
        return True
    if isinstance(value, list):
        return any(_has_float(item) for item in value)
    if isinstance(value, dict):
        return any(_has_float(item) for item in value.values())
    return False


def test_a_fragment_is_written_as_it_is_unparsed() -> None:
    """Pages hand JSON columns over as their stored text (``JSONFragmentRead``)."""
    stored = '["Grüße <a@example.com>", {"size": 123456789012345678901234567890}]'
    encoded = jsoncodec.dumps({"to": jsoncodec.Fragment(stored), "n": 1})
    assert encoded == ('{"to":' + stored + ',"n":1}').encode()
