"""Responses and JSON columns are encoded by pydantic-core: the same JSON the stdlib wrote."""

from __future__ import annotations

import json

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
