"""What a server says goes into the database as text every engine can hold and read back."""

from __future__ import annotations

import pytest

from postroom.kit.text import storable_text


@pytest.mark.parametrize(
    ("said", "stored"),
    [
        ("250 OK", "250 OK"),
        ("550 Empfänger unbekannt", "550 Empfänger unbekannt"),
        ("535 Anmeldung f\udcfcr mallory", "535 Anmeldung für mallory"),  # Latin-1, escaped
        ("550 caf\udcc3\udca9", "550 café"),  # UTF-8 bytes escaped one by one
        ("451 half \ud83d a pair", "451 half \ufffd a pair"),  # a lone surrogate of UTF-16
        ("421 NUL\x00 inside", "421 NUL inside"),
    ],
)
def test_server_text_is_stored_readable(said: str, stored: str) -> None:
    assert storable_text(said) == stored
    stored.encode("utf-8")  # no surrogate is left
