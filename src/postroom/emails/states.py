"""The email state machine: one table of allowed transitions, one function that checks it.

Every status change of an email, by the API or by the dispatcher, goes through
``check_transition``. Statuses are Close's six; there is no ``sending`` or ``canceled``.

    API (PUT)                          dispatcher
    draft     → draft, scheduled,      scheduled → sent, error
                outbox                 outbox    → sent, error
    scheduled → draft  (cancel)
    outbox    → draft  (cancel)
    error     → draft, outbox (retry)
"""

from __future__ import annotations

from enum import StrEnum

from postroom.errors import ValidationFailed


class EmailStatus(StrEnum):
    INBOX = "inbox"
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    OUTBOX = "outbox"
    SENT = "sent"
    ERROR = "error"


class Actor(StrEnum):
    API = "api"
    DISPATCHER = "dispatcher"


S = EmailStatus

TRANSITIONS: dict[Actor, frozenset[tuple[EmailStatus, EmailStatus]]] = {
    Actor.API: frozenset(
        {
            (S.DRAFT, S.DRAFT),
            (S.DRAFT, S.SCHEDULED),
            (S.DRAFT, S.OUTBOX),
            (S.SCHEDULED, S.DRAFT),
            (S.OUTBOX, S.DRAFT),
            (S.ERROR, S.DRAFT),
            (S.ERROR, S.OUTBOX),
        }
    ),
    Actor.DISPATCHER: frozenset(
        {
            (S.SCHEDULED, S.SENT),
            (S.OUTBOX, S.SENT),
            (S.SCHEDULED, S.ERROR),
            (S.OUTBOX, S.ERROR),
        }
    ),
}

QUEUED = frozenset({S.SCHEDULED, S.OUTBOX})
"""Statuses the dispatcher sends; a cancel moves them back to draft while unclaimed."""

EDITABLE = frozenset({S.DRAFT, S.ERROR})
"""Statuses whose content may still be edited."""

SENDER_REQUIRED = frozenset({S.INBOX, S.SCHEDULED, S.OUTBOX, S.ERROR})
FOLLOWUP_ALLOWED = frozenset({S.SCHEDULED, S.OUTBOX, S.SENT})


def check_transition(current: EmailStatus, target: EmailStatus, actor: Actor = Actor.API) -> None:
    """Raise a 400 on ``status`` unless ``actor`` may move an email ``current`` → ``target``."""
    if current == target and actor is Actor.API:
        return
    if (current, target) not in TRANSITIONS[actor]:
        raise ValidationFailed.field(
            "status", f"An email cannot change from {current.value} to {target.value}."
        )


def is_cancel(current: EmailStatus, target: EmailStatus) -> bool:
    return current in QUEUED and target is S.DRAFT


def allows_edits(current: EmailStatus, target: EmailStatus) -> bool:
    """Content edits are allowed on drafts and failed emails, and together with a cancel."""
    return current in EDITABLE or is_cancel(current, target)


def direction(status: EmailStatus) -> str:
    return "incoming" if status is S.INBOX else "outgoing"
