"""The crash test's reading of a cancel's answer (``tests/crash/crash_test.py``, property 5)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.crash.crash_test import Ledger

EMAIL_ID = "acti_crash"


def answer(status: int, attempts: list[dict[str, Any]]) -> httpx.Response:
    return httpx.Response(
        status, json={"id": EMAIL_ID, "status": "draft", "send_attempts": attempts}
    )


def attempt(error_class: str) -> dict[str, Any]:
    return {"date": "2026-12-07T20:04:53+00:00", "error_class": error_class, "error_message": "x"}


def test_a_200_on_a_queued_email_is_a_cancel() -> None:
    ledger = Ledger()
    ledger.cancel_answered(EMAIL_ID, answer(200, []))
    assert ledger.cancelled == {EMAIL_ID}


def test_a_200_on_an_email_retried_after_a_4xx_is_a_cancel() -> None:
    ledger = Ledger()
    ledger.cancel_answered(EMAIL_ID, answer(200, [attempt("TemporaryRejection")]))
    assert ledger.cancelled == {EMAIL_ID}


def test_a_200_on_an_email_that_ended_delivery_unknown_is_no_cancel() -> None:
    ledger = Ledger()
    ledger.cancel_answered(EMAIL_ID, answer(200, [attempt("DeliveryUnknown")]))
    assert (ledger.cancelled, ledger.reset_after_failure) == (set(), {EMAIL_ID})


def test_a_400_is_counted_and_is_no_cancel() -> None:
    ledger = Ledger()
    ledger.cancel_answered(EMAIL_ID, httpx.Response(400, json={}))
    assert (ledger.cancelled, ledger.cancel_statuses[400]) == (set(), 1)
