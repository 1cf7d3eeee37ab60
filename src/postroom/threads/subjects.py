"""Normalized subjects: reply and forward prefixes stripped, spaces folded."""

from __future__ import annotations

import re

_PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|aw|wg|sv|vs|antw|tr|rif|res|enc|odp|ynt|r)(?:\[\d+\])?\s*[:：]\s*)+",
    re.IGNORECASE,
)


def display_subject(subject: str | None) -> str:
    """``"Re: FWD:  Pricing "`` → ``"Pricing"``."""
    return " ".join(_PREFIX.sub("", subject or "").split())


def subject_key(subject: str | None) -> str:
    """The form subjects are matched on: display subject, case folded."""
    return display_subject(subject).casefold()
