"""Ids: a prefix, then the creation time and 208 random bits in base 62, in ASCII order."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from postroom.kit.ids import _ALPHABET, _base62, new_id


def value_of(digits: str) -> int:
    number = 0
    for digit in digits:
        number = number * 62 + _ALPHABET.index(digit)
    return number


@given(number=st.integers(min_value=0, max_value=62**35 - 1), digits=st.sampled_from([8, 35]))
def test_base62_digits_read_back_as_the_number(number: int, digits: int) -> None:
    if number >= 62**digits:
        number %= 62**digits
    written = _base62(number, digits)
    assert len(written) == digits
    assert value_of(written) == number


def test_ids_made_later_sort_later_and_never_repeat() -> None:
    made = []
    for _ in range(5):
        made += [new_id("acti") for _ in range(200)]
        time.sleep(0.002)
    assert len(set(made)) == len(made)
    assert all(identifier.startswith("acti_") and len(identifier) == 48 for identifier in made)
    moments = [identifier[5:13] for identifier in made]
    assert moments == sorted(moments)
