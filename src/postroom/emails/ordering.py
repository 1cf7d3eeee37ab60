"""The order of email lists (``_order_by``), and Close's rules that tie it to the filters.

- ``_order_by`` is ``date_created``, ``activity_at``, or either with a leading ``-`` (newest
  first); default ``-date_created``. Ties go by id in the same direction, so ``_skip`` pages
  stay stable. Anything else is a 400 on ``_order_by``.
- Ordering by ``activity_at`` needs exactly one ``lead_id`` (Close: "can only be used when
  listing activities on a single lead"); it is sorted from that lead's emails.
- On ``/activity/`` only the date filters of the field sorted on may be used (Close: "if you
  want to use ``activity_at__lt`` and ``activity_at__gt`` as filters, you need to include
  ``_order_by=-activity_at``"). ``/activity/email/`` documents its ``activity_at`` filters
  without that condition, and keeps them so.
"""

from __future__ import annotations

from postroom.emails.repository import ORDER_COLUMNS, EmailFilter
from postroom.errors import ValidationFailed
from postroom.kit.filters import BOUNDS

DEFAULT_ORDER = "-date_created"
ORDERS = tuple(f"{sign}{name}" for name in ORDER_COLUMNS for sign in ("", "-"))
"""Every value ``_order_by`` accepts."""
BOUNDED_FIELDS = {"date_created": "created_after", "activity_at": "activity_after"}
"""Each sortable field, and the ``EmailFilter`` attribute holding its date filters."""


def parse_order(raw: str | None) -> str:
    """The ``_order_by`` of a list request (absent or blank: the default)."""
    if raw is None or not raw.strip():
        return DEFAULT_ORDER
    if raw.strip() not in ORDERS:
        allowed = ", ".join(ORDERS)
        raise ValidationFailed.field("_order_by", f"Order by one of {allowed}, not {raw!r}.")
    return raw.strip()


def sorted_field(where: EmailFilter) -> str:
    return where.order_by.removeprefix("-")


def check_order(where: EmailFilter) -> None:
    """``activity_at`` orders one lead's emails only."""
    if sorted_field(where) == "activity_at" and len(where.lead_ids or []) != 1:
        raise ValidationFailed.field("_order_by", "Ordering by activity_at needs a single lead_id.")


def check_sorted_field_filters(where: EmailFilter) -> None:
    """``/activity/``: date filters only on the field the list is ordered by."""
    ordered = sorted_field(where)
    problems = {
        f"{name}__{operator}": (
            f"Filtering on {name} needs _order_by={name} or -{name} (this list is ordered by "
            f"{ordered})."
        )
        for name, attribute in BOUNDED_FIELDS.items()
        if name != ordered
        for operator in BOUNDS
        if operator in getattr(where, attribute)
    }
    if problems:
        raise ValidationFailed(field_errors=problems)
