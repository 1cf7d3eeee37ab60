"""Close's bulk task update, ``PUT /task/``: the filters of ``GET /task/`` choose the tasks,
the body sets ``assigned_to``, ``date`` or ``is_complete`` on every one of them. Never commits.

- The filters are the list's, validated and applied by the same code
  (``filters.list_filter``): without ``_type`` only ``lead`` tasks are changed, as only they
  are listed. A parameter the list does not know is a 400 naming it (a misspelt filter would
  otherwise widen the update to every task), and so is a request with no filter at all.
- The body takes those three fields only, validated as a task's PUT validates them; any other
  field is a 400 naming it, and an empty body is a 400.
- Each task changes and records its event as its own PUT would (``service.change_tasks``); a
  task already holding the values sent is left alone. Tasks are read and changed ``CHUNK`` at
  a time, by id, so memory does not grow with the number matched; all in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.errors import ValidationFailed
from postroom.events.service import Origin
from postroom.kit.datetimes import utcnow
from postroom.kit.paging import split_csv
from postroom.models import Task
from postroom.tasks import filters, repository, service
from postroom.tasks.repository import TaskFilter
from postroom.tasks.schemas import TaskBulkQuery, TaskBulkUpdate, TaskChanges
from postroom.users.auth import Caller

CHUNK = 500
"""Tasks read, changed and recorded together (one ``record_many`` per chunk)."""

FIELDS = tuple(TaskChanges.model_fields)
"""``date``, ``assigned_to``, ``is_complete``: what a bulk update may change."""

ACCEPTED_PARAMETERS = frozenset({"_fields"})
"""Parameters of Close's bulk update that are not filters (the answer is ``{}`` anyway)."""


async def update_tasks(
    session: AsyncSession, caller: Caller, query: TaskBulkQuery, body: TaskBulkUpdate
) -> None:
    where = await _checked_request(session, caller, query, body)
    wanted = service.wanted_columns(body, caller.tz)
    origin = Origin.of(caller)
    after: str | None = None
    while tasks := await repository.tasks_after(
        session, caller.organization_id, where, after, CHUNK
    ):
        await _change_chunk(session, origin, tasks, wanted)
        after = tasks[-1].id


async def _change_chunk(
    session: AsyncSession, origin: Origin, tasks: Sequence[Task], wanted: Mapping[str, Any]
) -> None:
    changes = [(task, service.task_changes(task, wanted)) for task in tasks]
    changed = [(task, columns) for task, columns in changes if columns]
    if changed:
        await service.change_tasks(session, origin, changed)


async def _checked_request(
    session: AsyncSession, caller: Caller, query: TaskBulkQuery, body: TaskBulkUpdate
) -> TaskFilter:
    """The list filter of the request, once every part of it has been checked."""
    _refuse_unknown_parameters(query)
    _refuse_other_fields(body)
    where = filters.list_filter(caller, query, utcnow())
    if not _chooses_tasks(query, where):
        raise ValidationFailed(
            ["A bulk update needs at least one filter of GET /task/ (for example id__in)."]
        )
    if "assigned_to" in body.model_fields_set:
        await service.check_assignee(session, caller, body.assigned_to)
    return where


def _refuse_unknown_parameters(query: TaskBulkQuery) -> None:
    unknown = sorted(set(query.model_extra or {}) - ACCEPTED_PARAMETERS)
    if unknown:
        message = "Not a filter of GET /task/; a bulk update changes every task matched."
        raise ValidationFailed(field_errors=dict.fromkeys(unknown, message))


def _refuse_other_fields(body: TaskBulkUpdate) -> None:
    others = sorted(body.model_extra or {})
    if others:
        message = "Only assigned_to, date and is_complete can be changed in bulk."
        raise ValidationFailed(field_errors=dict.fromkeys(others, message))
    if not body.model_fields_set:
        raise ValidationFailed([f"Send at least one of {', '.join(sorted(FIELDS))}."])


def _chooses_tasks(query: TaskBulkQuery, where: TaskFilter) -> bool:
    """Whether a filter was sent: a type (``_type=all`` included), or a condition the list
    applies (blank values are as if absent; ``organization_id`` can only be one's own)."""
    if split_csv(query.type_filter) or split_csv(query.type_in):
        return True
    values = (where.task_id, where.ids, where.lead_ids, where.assignees, where.is_complete)
    bounds = (where.due_at, *where.due_bounds, where.created_bounds, where.updated_bounds)
    return any(value is not None for value in (*values, where.view)) or any(bounds)
