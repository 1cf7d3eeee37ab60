"""Every SQL statement about tasks."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, UnaryExpression, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.kit.sql import for_change, within_bounds
from postroom.models import Lead, Task
from postroom.tasks.schemas import TaskView


@dataclass
class TaskFilter:
    """Conditions of ``GET /task/``, combined with AND; ``types=None`` means every type.

    ``due_at`` lists exact due times; ``due_bounds`` ranges of the due time (one per
    parameter family, ``date__*`` and ``due_date__*``)."""

    tomorrow: datetime
    """Where the ``future`` view starts (``schemas.start_of_tomorrow``)."""
    types: list[str] | None = None
    task_id: str | None = None
    ids: list[str] | None = None
    lead_ids: list[str] | None = None
    assignees: list[str] | None = None
    is_complete: bool | None = None
    view: TaskView | None = None
    due_at: list[datetime] = field(default_factory=list)
    due_bounds: list[dict[str, datetime]] = field(default_factory=list)
    created_bounds: dict[str, datetime] = field(default_factory=dict)
    updated_bounds: dict[str, datetime] = field(default_factory=dict)
    order_by: str = "-date_created"


ORDER_COLUMNS = {"date": Task.due_at, "date_created": Task.created_at}
"""What ``_order_by`` may name, with or without a leading ``-``."""


def _view_condition(view: TaskView, tomorrow: datetime) -> ColumnElement[bool]:
    if view is TaskView.ARCHIVE:
        return Task.is_complete.is_(True)
    if view is TaskView.FUTURE:
        return and_(Task.is_complete.is_(False), Task.due_at >= tomorrow)
    return and_(Task.is_complete.is_(False), or_(Task.due_at.is_(None), Task.due_at < tomorrow))


def _conditions(organization_id: str, where: TaskFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Task.organization_id == organization_id]
    if where.task_id is not None:
        conditions.append(Task.id == where.task_id)
    for column, values in (
        (Task.task_type, where.types),
        (Task.id, where.ids),
        (Task.lead_id, where.lead_ids),
        (Task.assigned_to, where.assignees),
    ):
        if values is not None:
            conditions.append(column.in_(values))
    if where.is_complete is not None:
        conditions.append(Task.is_complete.is_(where.is_complete))
    if where.view is not None:
        conditions.append(_view_condition(where.view, where.tomorrow))
    conditions.extend(Task.due_at == moment for moment in where.due_at)
    for bounds in where.due_bounds:
        conditions.extend(within_bounds(Task.due_at, bounds))
    conditions.extend(within_bounds(Task.created_at, where.created_bounds))
    conditions.extend(within_bounds(Task.updated_at, where.updated_bounds))
    return conditions


def _ordering(order_by: str) -> list[UnaryExpression[Any]]:
    column = ORDER_COLUMNS[order_by.lstrip("-")]
    if order_by.startswith("-"):
        return [column.desc().nulls_last(), Task.id.desc()]
    return [column.asc().nulls_last(), Task.id.asc()]


async def list_tasks(
    session: AsyncSession, organization_id: str, where: TaskFilter, skip: int, limit: int
) -> Sequence[Task]:
    statement = (
        select(Task)
        .where(*_conditions(organization_id, where))
        .order_by(*_ordering(where.order_by))
        .offset(skip)
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


async def tasks_after(
    session: AsyncSession, organization_id: str, where: TaskFilter, after: str | None, limit: int
) -> Sequence[Task]:
    """Up to ``limit`` tasks matching ``where`` whose id follows ``after``, by id, locked
    for the transaction on PostgreSQL: a bulk update reads its tasks this way, a chunk at a
    time."""
    conditions = _conditions(organization_id, where)
    if after is not None:
        conditions.append(Task.id > after)
    statement = select(Task).where(*conditions).order_by(Task.id).limit(limit).with_for_update()
    return (await session.execute(statement)).scalars().all()


async def get_task(
    session: AsyncSession, organization_id: str, task_id: str, locked: bool = False
) -> Task | None:
    """The task; ``locked``: for a change (``kit.sql.for_change``)."""
    statement = select(Task).where(Task.id == task_id, Task.organization_id == organization_id)
    return (await session.execute(for_change(statement, locked))).scalar_one_or_none()


async def leads_by_id(
    session: AsyncSession, organization_id: str, lead_ids: Collection[str]
) -> Sequence[Lead]:
    if not lead_ids:
        return []
    statement = select(Lead).where(
        Lead.organization_id == organization_id, Lead.id.in_(list(lead_ids))
    )
    return (await session.execute(statement)).scalars().all()


async def tasks_of_lead(
    session: AsyncSession, organization_id: str, lead_id: str
) -> Sequence[Task]:
    """Every task of the lead (of every type), oldest first, locked for its deletion
    (``kit.sql.for_change``: a task deleted meanwhile is left out)."""
    return await _tasks_where(
        session,
        and_(Task.organization_id == organization_id, Task.lead_id == lead_id),
        locked=True,
    )


async def open_tasks_of_leads(
    session: AsyncSession, organization_id: str, lead_ids: Collection[str]
) -> Sequence[Task]:
    """The incomplete tasks of the leads (of every type), oldest first: a lead's ``tasks``."""
    if not lead_ids:
        return []
    return await _tasks_where(
        session,
        and_(
            Task.organization_id == organization_id,
            Task.lead_id.in_(list(lead_ids)),
            Task.is_complete.is_(False),
        ),
    )


async def delete_task(session: AsyncSession, task: Task) -> None:
    await session.execute(delete(Task).where(Task.id == task.id))


def _followups_of_email(email_id: str) -> ColumnElement[bool]:
    return Task.email_id == email_id


def _followups_of_thread(thread_id: str) -> ColumnElement[bool]:
    return and_(Task.object_type == "emailthread", Task.object_id == thread_id)


async def followups_of_email(session: AsyncSession, email_id: str) -> Sequence[Task]:
    """The tasks ``delete_followups_of_email`` removes (or the follow-up scheduler dates
    again), oldest first, locked (``kit.sql.for_change``: one deleted meanwhile is left out)."""
    return await _tasks_where(session, _followups_of_email(email_id), locked=True)


async def followups_of_thread(session: AsyncSession, thread_id: str) -> Sequence[Task]:
    """The tasks ``delete_followups_of_thread`` removes, oldest first, locked
    (``kit.sql.for_change``: one deleted meanwhile is left out)."""
    return await _tasks_where(session, _followups_of_thread(thread_id), locked=True)


async def tasks_of_contact(session: AsyncSession, contact_id: str) -> Sequence[Task]:
    """Every task naming the contact (follow-up tasks copy their email's), oldest first,
    locked for the change (``kit.sql.for_change``: a task deleted meanwhile is left out)."""
    return await _tasks_where(session, Task.contact_id == contact_id, locked=True)


async def _tasks_where(
    session: AsyncSession, condition: ColumnElement[bool], locked: bool = False
) -> Sequence[Task]:
    statement = select(Task).where(condition).order_by(Task.created_at, Task.id)
    return (await session.execute(for_change(statement, locked))).scalars().all()


async def delete_followups_of_email(session: AsyncSession, email_id: str) -> None:
    """System follow-up tasks go with the email they are about."""
    await session.execute(delete(Task).where(_followups_of_email(email_id)))


async def delete_followups_of_thread(session: AsyncSession, thread_id: str) -> None:
    await session.execute(delete(Task).where(_followups_of_thread(thread_id)))


def add(session: AsyncSession, task: Task) -> None:
    session.add(task)
