"""Normalized subjects strip reply/forward prefixes and fold case and spaces."""

from __future__ import annotations

import pytest

from postroom.threads.subjects import display_subject, subject_key


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Pricing", "Pricing"),
        ("Re: Pricing", "Pricing"),
        ("RE: Fwd: re:  Pricing  plan ", "Pricing plan"),
        ("AW: WG: Angebot", "Angebot"),
        ("Re[2]: Pricing", "Pricing"),
        ("Fw: SV: Antw: Offer", "Offer"),
        ("Regarding the offer", "Regarding the offer"),
        ("", ""),
        (None, ""),
    ],
)
def test_display_subject_strips_prefixes(subject: str | None, expected: str) -> None:
    assert display_subject(subject) == expected


def test_subject_key_folds_case() -> None:
    assert subject_key("Re: PRICING   Plan") == subject_key("pricing plan")
