"""One address as Close accepts it; a remembered answer is the answer worked out afresh."""

from __future__ import annotations

import pytest

from postroom.kit.addresses import check_address


@pytest.mark.parametrize(
    "value",
    ["jane@acme.example.com", '"Jane Doe" <jane@acme.example.com>', "Sam <sam@sales.example.com>"],
)
def test_a_valid_address_is_returned_stripped_every_time(value: str) -> None:
    assert check_address(f"  {value} ") == value
    assert check_address(f"  {value} ") == value
    check_address.cache_clear()
    assert check_address(f"  {value} ") == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "required"),
        ("jane", "not a valid email address"),
        ("jane@", "not a valid email address"),
        ("a@b.com, c@d.com", "not one email address"),
        ("jane@acme.example.com\r\nBcc: x@y.com", "line breaks"),
    ],
)
def test_a_refused_address_is_refused_every_time(value: str, reason: str) -> None:
    for _ in range(2):
        with pytest.raises(ValueError, match=reason):
            check_address(value)
