"""What happened to one delivery, as the row values the dispatcher stores.

Every status change goes through the state machine (``Actor.DISPATCHER``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from postroom.dispatch.addresses import envelope
from postroom.dispatch.policy import RetryPolicy
from postroom.emails.rendering import EmailRecord
from postroom.emails.states import Actor, EmailStatus, check_transition
from postroom.kit.datetimes import format_datetime
from postroom.kit.text import storable_text
from postroom.transports import (
    AuthenticationFailed,
    ConnectionFailed,
    DeliveryError,
    DeliveryReceipt,
    DeliveryTimeout,
    DeliveryUnknown,
    InsecureConnection,
    TransientDeliveryError,
)

NO_ACCOUNT = "NoSendingAccount"


class UnexpectedFailure(TransientDeliveryError):
    """Anything outside the transport's tree that stopped a delivery before its data left (a
    bug, the database down while the message was built): retried like a transient failure
    and given up in the end, never left to lease expiry, which would claim it again and again
    with nothing recorded."""

    error_class = "UnexpectedFailure"


def unexpected(error: Exception, handed_over: bool) -> DeliveryError:
    """``DeliveryUnknown`` once the data may have left (its marker was stored), else an
    ``UnexpectedFailure``."""
    text = f"{type(error).__name__}: {error}"
    return DeliveryUnknown(text) if handed_over else UnexpectedFailure(text)


CLAIM = "claimed_at"
"""Not written: when the claim the outcome was made under began. ``claimed_by`` alone does not
tell two claims of one worker apart, and an outcome written late (again, after a commit whose
answer was lost) must not land on a later claim of the same email."""

ACCOUNT_HEALTH = "account_health"
"""Not a column of the email: what a delivery through a connected account says of that
account's SMTP settings, an ``AccountHealth``; ``store_outcomes`` writes it to the account."""

UNUSABLE_SETTINGS = (AuthenticationFailed, InsecureConnection)
"""Failures that say the SMTP settings cannot be used as they are (refused credentials, a
connection less safe than the settings or the password need): Close's
``need_smtp_credentials``."""

ACCOUNT_FAILURES = (ConnectionFailed, DeliveryTimeout, *UNUSABLE_SETTINGS)
"""Failures of the account's server or settings, not of one message or recipient."""


@dataclass(frozen=True)
class AccountHealth:
    account_id: str
    send_status: str
    latest_send_error: str | None


def attempt(at: datetime, error_class: str, message: str) -> dict[str, str]:
    """One ``send_attempts`` entry; a server's words are made storable (``storable_text``)."""
    error_message = storable_text(message)
    return {
        "date": format_datetime(at) or "",
        "error_class": error_class,
        "error_message": error_message,
    }


def _values(email: EmailRecord, now: datetime, **changes: Any) -> dict[str, Any]:
    values = {
        "id": email.id,
        CLAIM: email.claimed_at,
        "status": email.status,
        "due_at": email.due_at,
        "sent_at": email.sent_at,
        "activity_at": email.activity_at,
        "envelope": email.envelope,
        "send_attempts": list(email.send_attempts),
        "attempt_count": email.attempt_count,
        "need_smtp_credentials": False,
        "updated_at": now,
    }
    if "status" in changes:
        check_transition(EmailStatus(email.status), changes["status"], Actor.DISPATCHER)
        changes["status"] = changes["status"].value
    values.update(changes)
    return values


def sent(email: EmailRecord, receipt: DeliveryReceipt, now: datetime) -> dict[str, Any]:
    refusals = [
        attempt(now, "RecipientRefused", f"{recipient}: {reply}")
        for recipient, reply in receipt.refused.items()
    ]
    return _values(
        email, now,
        status=EmailStatus.SENT, due_at=None, sent_at=now, activity_at=now,
        envelope=envelope(email, now), send_attempts=[*email.send_attempts, *refusals],
        attempt_count=email.attempt_count + 1,
    )  # fmt: skip


def failed(
    email: EmailRecord, error: DeliveryError, now: datetime, policy: RetryPolicy
) -> dict[str, Any]:
    """A transient failure is retried until the policy gives up; anything else is final.
    Refused credentials, or a connection not safe enough for the settings, leave the email
    needing SMTP credentials (Close's ``need_smtp_credentials``: its account has no usable
    SMTP settings)."""
    attempts = [*email.send_attempts, attempt(now, error.error_class, error.message)]
    failures = email.attempt_count + 1
    retry_at = None
    if isinstance(error, TransientDeliveryError):
        retry_at = policy.next_attempt(failures, _first_failure(attempts, failures), now)
    if retry_at is not None:
        return _values(email, now, due_at=retry_at, send_attempts=attempts, attempt_count=failures)
    return _values(
        email, now, status=EmailStatus.ERROR, due_at=None, send_attempts=attempts,
        attempt_count=failures, need_smtp_credentials=isinstance(error, UNUSABLE_SETTINGS),
    )  # fmt: skip


def no_account(email: EmailRecord, now: datetime, problem: str | None = None) -> dict[str, Any]:
    """No usable sending account: none at all, or ``problem`` with the one it names."""
    message = problem or "No sending account: add one for the user or set POSTROOM_SMTP_URL."
    return _values(
        email, now, status=EmailStatus.ERROR, due_at=None, need_smtp_credentials=True,
        send_attempts=[*email.send_attempts, attempt(now, NO_ACCOUNT, message)],
    )  # fmt: skip


def unknown_after_crash(email: EmailRecord, now: datetime) -> dict[str, Any]:
    message = "The worker stopped after handing the message to the server and before its reply."
    return _values(
        email, now, status=EmailStatus.ERROR, due_at=None,
        send_attempts=[*email.send_attempts, attempt(now, "DeliveryUnknown", message)],
        attempt_count=email.attempt_count + 1,
    )  # fmt: skip


def with_account_health(
    outcome: dict[str, Any], account_id: str | None, error: DeliveryError | None
) -> dict[str, Any]:
    """The outcome of a delivery through ``account_id`` (None: the default URL), with what it
    says of the account: ``ok`` once a message was accepted, ``error`` when the server could
    not be reached, refused the credentials or could not be used safely; a refused message or
    recipient says nothing."""
    if account_id is None:
        return outcome
    if error is None:
        return {**outcome, ACCOUNT_HEALTH: AccountHealth(account_id, "ok", None)}
    if isinstance(error, ACCOUNT_FAILURES):
        problem = storable_text(f"{error.error_class}: {error.message}")
        return {**outcome, ACCOUNT_HEALTH: AccountHealth(account_id, "error", problem)}
    return outcome


def _first_failure(attempts: list[dict[str, str]], failures: int) -> datetime:
    """The first failure of the current run of attempts (a PUT to outbox starts a new run)."""
    real = [item for item in attempts if item["error_class"] != "RecipientRefused"]
    return datetime.fromisoformat(real[-failures]["date"])
