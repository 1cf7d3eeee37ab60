"""What ``GET /task/`` lists (and ``PUT /task/`` changes): its query as a ``TaskFilter``.
Without ``_type`` only ``lead`` tasks; ``_type=all`` every type; ``view=inbox``/``future``
override the due date's ``__lt`` and ``__gte``; ``date=`` is due at exactly that moment."""

from __future__ import annotations

from datetime import datetime, timezone

from postroom.errors import ValidationFailed
from postroom.kit.filters import check_own_organization, datetime_bounds, parse_bound
from postroom.kit.paging import split_csv
from postroom.tasks.repository import ORDER_COLUMNS, TaskFilter
from postroom.tasks.schemas import (
    ALL_TYPES,
    CLOSE_TASK_TYPES,
    TaskListQuery,
    TaskType,
    TaskView,
    start_of_tomorrow,
)
from postroom.users.auth import Caller


def list_filter(caller: Caller, query: TaskListQuery, now: datetime) -> TaskFilter:
    """The tasks ``GET /task/`` lists for ``query``, and so those ``PUT /task/`` changes."""
    check_own_organization(query.organization_id, caller.organization_id)
    return task_filter(query, caller.tz, now)


def task_filter(query: TaskListQuery, tz: timezone | None, now: datetime) -> TaskFilter:
    """The filter of a list request (``id`` and ``id__in`` both apply when both are sent)."""
    return TaskFilter(
        tomorrow=start_of_tomorrow(now, tz),
        types=task_types(query),
        task_id=query.task_id,
        ids=split_csv(query.id__in),
        lead_ids=split_csv(query.lead_id),
        assignees=split_csv(query.assigned_to),
        is_complete=query.is_complete,
        view=query.view,
        due_at=_exact_due_times(query, tz),
        due_bounds=[_due_bounds(query, name, tz) for name in DUE_DATE_NAMES],
        created_bounds=datetime_bounds(query, "date_created", tz),
        updated_bounds=datetime_bounds(query, "date_updated", tz),
        order_by=_order_by(query.order_by),
    )


DUE_DATE_NAMES = ("date", "due_date")
"""Close's two names of a task's due date, each with its ``__gt`` ... filters."""


def _exact_due_times(query: TaskListQuery, tz: timezone | None) -> list[datetime]:
    """``date=`` and ``due_date=``: due at exactly that moment (a plain date: its midnight,
    which is where a task created with that plain date is due)."""
    sent = ((name, getattr(query, name)) for name in DUE_DATE_NAMES)
    return [parse_bound(name, raw, tz) for name, raw in sent if raw is not None]


def _due_bounds(query: TaskListQuery, name: str, tz: timezone | None) -> dict[str, datetime]:
    """``view=inbox``/``future`` override ``__lt`` and ``__gte`` of the due date."""
    bounds = datetime_bounds(query, name, tz)
    if query.view in (TaskView.INBOX, TaskView.FUTURE):
        return {op: value for op, value in bounds.items() if op not in ("lt", "gte")}
    return bounds


def task_types(query: TaskListQuery) -> list[str] | None:
    """The types to list: ``lead`` unless asked otherwise; None for ``_type=all``."""
    name, types = "_type__in", split_csv(query.type_in)
    if types is None:
        name, types = "_type", split_csv(query.type_filter)
    if types is None:
        return [TaskType.LEAD.value]
    if ALL_TYPES in types:
        return None
    unknown = [value for value in types if value not in CLOSE_TASK_TYPES]
    if unknown:
        raise ValidationFailed.field(name, f"Unknown task type: {unknown[0]!r}.")
    return types


def _order_by(value: str | None) -> str:
    if value is None or not value.strip():
        return "-date_created"
    if value.strip().lstrip("-") not in ORDER_COLUMNS:
        raise ValidationFailed.field("_order_by", "Order by date or date_created.")
    return value.strip()
