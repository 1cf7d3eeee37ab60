"""The events Postroom emits: every object type with the actions it has.

Webhook subscriptions name ``{object_type, action}`` pairs; a pair that is not here would
never fire, so subscribing to it is refused (a typo such as ``activity.emial`` would otherwise
be a subscription that silently never delivers). Close's other object types (``opportunity``,
``activity.call`` ...) are refused for the same reason. ``tests/events/test_catalog.py``
holds this table to what the services really record.
"""

from __future__ import annotations

from collections.abc import Mapping

CHANGES = frozenset({"created", "updated", "deleted"})
TASK_CHANGES = CHANGES | {"completed"}

EMITTED: Mapping[str, frozenset[str]] = {
    "lead": CHANGES,
    "contact": CHANGES,
    "email_template": CHANGES,
    "activity.email": CHANGES | {"sent"},
    "activity.email_thread": CHANGES,
    "task.lead": TASK_CHANGES,
    "task.outgoing_call": TASK_CHANGES,
    "task.email_followup": TASK_CHANGES,
    "unsubscribed_email": frozenset({"created", "deleted"}),
}


def unknown_event_problem(object_type: str, action: str) -> str | None:
    """Why Postroom would never emit ``object_type``/``action``, or None when it does."""
    actions = EMITTED.get(object_type)
    if actions is None:
        known = ", ".join(sorted(EMITTED))
        return f"Unknown object_type {object_type!r}; Postroom emits events for: {known}."
    if action not in actions:
        known = ", ".join(sorted(actions))
        return f"Unknown action {action!r} for {object_type}; its actions are: {known}."
    return None
