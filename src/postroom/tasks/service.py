"""Rules about tasks. Never commits.

- API clients create ``lead`` and ``outgoing_call`` tasks (``_type`` anything else is a 400
  on ``_type``); the lead must be the caller's, the assignee a user of the caller's
  organization (default: the caller).
- Any task may be completed, re-dated, reassigned or deleted; ``text`` changes only on tasks
  made through the API. A PUT that changes nothing writes nothing (no event).
- Listing without ``_type`` shows ``lead`` tasks only; ``_type=all`` shows every type.
- ``email_followup`` tasks are made by the follow-up scheduler through ``followup_came_due``:
  at most one per email; a ``followup_date`` moved on re-dates and reopens that one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.contacts import repository as contact_repository
from postroom.emails import repository as email_repository
from postroom.errors import NotFound, ValidationFailed
from postroom.events.service import Change, Origin, record, record_many
from postroom.kit.datetimes import localize, utcnow
from postroom.kit.ids import new_id
from postroom.kit.tenancy import check_posted_organization
from postroom.leads import repository as lead_repository
from postroom.leads.schemas import lead_display_name
from postroom.models import Contact, EmailActivity, Task
from postroom.tasks import repository
from postroom.tasks.filters import list_filter
from postroom.tasks.schemas import (
    API_TASK_TYPES,
    TaskChanges,
    TaskCreate,
    TaskListQuery,
    TaskPage,
    TaskType,
    TaskUpdate,
    TaskView,
    render_task,
    start_of_tomorrow,
)
from postroom.users import repository as user_repository
from postroom.users.auth import Caller

FOLLOWUP_OBJECT_TYPE = "emailthread"


def due_at(value: datetime | None, tz: timezone | None) -> datetime | None:
    return None if value is None else localize(value, tz)


async def create_task(session: AsyncSession, caller: Caller, body: TaskCreate) -> TaskPage:
    check_posted_organization(body, caller.organization_id)
    if body.task_type not in API_TASK_TYPES:
        message = "Only lead and outgoing_call tasks can be created through the API."
        raise ValidationFailed.field("_type", message)
    if not await lead_repository.lead_exists(session, caller.organization_id, body.lead_id):
        raise ValidationFailed.field("lead_id", "Lead not found.")
    assignee = body.assigned_to or caller.user_id
    await check_assignee(session, caller, assignee)
    check_dated(body, body.date)
    if body.contact_id is not None:
        await check_contact(session, caller, body.lead_id, body.contact_id)
    now = utcnow()
    task = Task(
        id=new_id("task"),
        organization_id=caller.organization_id,
        task_type=body.task_type,
        lead_id=body.lead_id,
        contact_id=body.contact_id,
        assigned_to=assignee,
        text=body.text,
        due_at=due_at(body.date, caller.tz),
        is_complete=body.is_complete,
        created_by=caller.user_id,
        updated_by=caller.user_id,
        created_at=now,
        updated_at=now,
    )
    repository.add(session, task)
    await session.flush()
    await task_changed(session, Origin.of(caller), task, "created")
    return await _page(session, caller.organization_id, [task], now, caller.tz)


async def check_new_contact(
    session: AsyncSession, caller: Caller, task: Task, contact_id: str | None
) -> None:
    """Another contact (or none) for ``task``. The contact it names already is not checked
    again: locking it would take the task and then the contact, while the contact's deletion
    takes them the other way round."""
    if task.task_type not in API_TASK_TYPES:
        message = "Only the contact of lead and outgoing_call tasks can be changed."
        raise ValidationFailed.field("contact_id", message)
    if contact_id is not None:
        await check_contact(session, caller, task.lead_id, contact_id)


def check_dated(body: TaskCreate | TaskUpdate, date: datetime | None) -> None:
    """``is_dateless: false`` asks for a task with a date: ``date`` is the one it would have."""
    if body.is_dateless is False and date is None:
        message = "A task that is not dateless needs a date: send one with is_dateless false."
        raise ValidationFailed.field("is_dateless", message)


async def check_contact(
    session: AsyncSession, caller: Caller, lead_id: str, contact_id: str
) -> None:
    """A contact a task is about to name: one of its lead's, kept from deletion until the
    task is written (as an email's, ``emails.references``)."""
    found = await contact_repository.get_referenced_contact(
        session, caller.organization_id, contact_id
    )
    if found is None or found.lead_id != lead_id:
        raise ValidationFailed.field("contact_id", "Contact not found on this lead.")


async def check_assignee(session: AsyncSession, caller: Caller, user_id: str | None) -> None:
    if user_id is None:
        raise ValidationFailed.field("assigned_to", "A task must be assigned to a user.")
    if await user_repository.get_user(session, caller.organization_id, user_id) is None:
        raise ValidationFailed.field("assigned_to", "User not found in this organization.")


async def get_task(session: AsyncSession, caller: Caller, task_id: str) -> TaskPage:
    task = await _owned_task(session, caller, task_id)
    return await _page(session, caller.organization_id, [task], utcnow(), caller.tz)


async def _owned_task(
    session: AsyncSession, caller: Caller, task_id: str, locked: bool = False
) -> Task:
    task = await repository.get_task(session, caller.organization_id, task_id, locked)
    if task is None:
        raise NotFound("Task")
    return task


async def list_tasks(
    session: AsyncSession, caller: Caller, query: TaskListQuery, skip: int, limit: int
) -> TaskPage:
    now = utcnow()
    where = list_filter(caller, query, now)
    tasks = await repository.list_tasks(session, caller.organization_id, where, skip, limit)
    return await _page(session, caller.organization_id, tasks, now, caller.tz)


async def update_task(
    session: AsyncSession, caller: Caller, task_id: str, body: TaskUpdate
) -> TaskPage:
    """A PUT that changes nothing (an empty body, or the values stored) changes nothing: no
    new ``date_updated`` or ``updated_by``, no event."""
    task = await _owned_task(session, caller, task_id, locked=True)
    check_posted_organization(body, caller.organization_id)
    sent = body.model_fields_set
    if "lead_id" in sent and body.lead_id != task.lead_id:
        message = "A task stays on its lead; lead_id cannot be changed."
        raise ValidationFailed.field("lead_id", message)
    if "text" in sent and body.text != task.text and task.task_type not in API_TASK_TYPES:
        message = "Only the text of lead and outgoing_call tasks can be changed."
        raise ValidationFailed.field("text", message)
    if "contact_id" in sent and body.contact_id != task.contact_id:
        await check_new_contact(session, caller, task, body.contact_id)
    if "assigned_to" in sent:
        await check_assignee(session, caller, body.assigned_to)
    check_dated(body, body.date if "date" in sent else task.due_at)
    changes = task_changes(task, wanted_columns(body, caller.tz))
    if changes:
        await change_tasks(session, Origin.of(caller), [(task, changes)])
    return await _page(session, caller.organization_id, [task], utcnow(), caller.tz)


CHANGEABLE_FIELDS = frozenset({*TaskChanges.model_fields, "text", "contact_id"})
"""The fields of a task's PUT that set its columns (``organization_id`` is only checked)."""


def wanted_columns(body: TaskChanges, tz: timezone | None) -> dict[str, Any]:
    """The columns the fields sent set, with their values (PUT is PATCH: only those)."""
    sent = body.model_fields_set & CHANGEABLE_FIELDS
    values = {name: getattr(body, name) for name in sent}
    if "date" in values:
        values["due_at"] = due_at(values.pop("date"), tz)
    return values


def task_changes(task: Task, wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The wanted columns whose value differs from the task's."""
    return {column: value for column, value in wanted.items() if getattr(task, column) != value}


async def change_tasks(
    session: AsyncSession, origin: Origin, changes: Sequence[tuple[Task, Mapping[str, Any]]]
) -> None:
    """Set the changed columns of each task, with ``updated_by`` and ``updated_at``, and
    record the event of each, as a task's PUT does, in one ``record_many``."""
    tasks = [task for task, _columns in changes]
    before = await rendered_tasks(session, origin.organization_id, tasks)
    now = utcnow()
    for task, columns in changes:
        for column, value in columns.items():
            setattr(task, column, value)
        task.updated_by = origin.user_id
        task.updated_at = now
    await session.flush()
    updates = await task_updates(session, origin.organization_id, tasks, before)
    await record_many(session, [(origin, change) for change in updates])


async def delete_task(session: AsyncSession, caller: Caller, task_id: str) -> None:
    task = await _owned_task(session, caller, task_id, locked=True)
    data = await rendered_task(session, task.organization_id, task)
    await repository.delete_task(session, task)
    await record(session, Origin.of(caller), _change(task, "deleted", data))


async def task_deletions(
    session: AsyncSession, organization_id: str, tasks: Sequence[Task]
) -> list[Change]:
    """The ``deleted`` changes of tasks about to go (rendered now, with one page of names)."""
    rendered = await rendered_tasks(session, organization_id, tasks)
    return [_change(task, "deleted", rendered[task.id]) for task in tasks]


async def task_updates(
    session: AsyncSession,
    organization_id: str,
    tasks: Sequence[Task],
    before: Mapping[str, dict[str, Any]],
) -> list[Change]:
    """The changes of tasks changed in place, as a task's PUT records them (``completed``
    when the change completed the task, else ``updated``); ``before``: their data, by id, as
    ``rendered_tasks`` gave it before the change."""
    after = await rendered_tasks(session, organization_id, tasks)
    return [
        _change(task, _update_action(task, before[task.id]), after[task.id], before[task.id])
        for task in tasks
    ]


def _update_action(task: Task, before: Mapping[str, Any]) -> str:
    return "completed" if task.is_complete and not before["is_complete"] else "updated"


async def rendered_tasks(
    session: AsyncSession, organization_id: str, tasks: Sequence[Task]
) -> dict[str, dict[str, Any]]:
    """The tasks as the API shows them, by id (with one page of names)."""
    page = await _page(session, organization_id, tasks, utcnow())
    return {task.id: render_task(task, page) for task in tasks}


async def open_tasks_of_leads(
    session: AsyncSession, organization_id: str, lead_ids: Collection[str], tz: timezone | None
) -> TaskPage:
    """The leads' incomplete tasks, as ``GET /task/{id}/`` shows them to a caller in ``tz``
    (``None``: UTC, as events see them)."""
    tasks = await repository.open_tasks_of_leads(session, organization_id, lead_ids)
    return await _page(session, organization_id, tasks, utcnow(), tz)


async def rendered_task(session: AsyncSession, organization_id: str, task: Task) -> dict[str, Any]:
    return render_task(task, await _page(session, organization_id, [task], utcnow()))


def _change(
    task: Task, action: str, data: dict[str, Any], previous: dict[str, Any] | None = None
) -> Change:
    return Change(f"task.{task.task_type}", action, task.id, task.lead_id, data, previous)


async def task_changed(
    session: AsyncSession,
    origin: Origin,
    task: Task,
    action: str,
    previous: dict[str, Any] | None = None,
) -> None:
    """Record the event of a change to ``task`` (``created``, ``updated``, ``completed``)."""
    data = await rendered_task(session, origin.organization_id, task)
    await record(session, origin, _change(task, action, data, previous))


async def _page(
    session: AsyncSession,
    organization_id: str,
    tasks: Sequence[Task],
    now: datetime,
    tz: timezone | None = None,
) -> TaskPage:
    """The tasks with the names of their leads and assignees, their views as the caller in
    ``tz`` sees them at ``now`` (events, which have no caller's time zone: UTC)."""
    lead_names = await _lead_names(session, organization_id, {task.lead_id for task in tasks})
    assignees = {task.assigned_to for task in tasks if task.assigned_to}
    user_names = await email_repository.user_names(session, assignees)
    return TaskPage(tasks, lead_names, user_names, start_of_tomorrow(now, tz))


async def _lead_names(
    session: AsyncSession, organization_id: str, lead_ids: Collection[str]
) -> dict[str, str]:
    leads = await repository.leads_by_id(session, organization_id, lead_ids)
    nameless = [lead.id for lead in leads if not lead.name]
    contacts = await contact_repository.contacts_of_leads(session, organization_id, nameless)
    by_lead: defaultdict[str, list[Contact]] = defaultdict(list)
    for contact in contacts:
        by_lead[contact.lead_id].append(contact)
    return {lead.id: lead_display_name(lead, by_lead[lead.id]) for lead in leads}


def new_followup_task(email: EmailActivity, thread_id: str, now: datetime) -> Task:
    """The ``email_followup`` task of ``email`` (not yet added): due at its ``followup_date``,
    assigned to the email's user, pointing at its thread."""
    return Task(
        id=new_id("noti"),
        organization_id=email.organization_id,
        task_type=TaskType.EMAIL_FOLLOWUP.value,
        lead_id=email.lead_id,
        contact_id=email.contact_id,
        assigned_to=email.user_id,
        text="",
        due_at=email.followup_at or now,
        is_complete=False,
        email_id=email.id,
        object_type=FOLLOWUP_OBJECT_TYPE,
        object_id=thread_id,
        subject=email.subject,
        body_preview=email.body_preview,
        view=TaskView.INBOX.value,
        created_at=now,
        updated_at=now,
    )


class FollowupRefused(Exception):
    """A follow-up task's insert failed, and not because the email already has one."""


async def add_followup_task(session: AsyncSession, task: Task) -> bool:
    """Insert ``task`` in a savepoint; False when the email already has its follow-up task."""
    try:
        async with session.begin_nested():
            repository.add(session, task)
    except IntegrityError:
        return False
    return True


async def followup_came_due(session: AsyncSession, email: EmailActivity, now: datetime) -> None:
    """``email``'s ``followup_date`` came with no reply: its ``email_followup`` task is created,
    with its ``created`` event. An email has one follow-up task, so when an earlier
    ``followup_date`` of the email left one (the date was moved on since), that task is due
    again instead: re-dated to the new ``followup_date`` and open, with an ``updated`` event."""
    task = new_followup_task(email, email.thread_id or "", now)
    origin = Origin(email.organization_id)
    if await add_followup_task(session, task):
        await task_changed(session, origin, task, "created")
        return
    existing_tasks = await repository.followups_of_email(session, email.id)
    if not existing_tasks:  # the insert broke another rule than "one per email"
        raise FollowupRefused(f"the database refused the follow-up task of {email.id}")
    for existing in existing_tasks:
        changes = task_changes(existing, {"due_at": task.due_at, "is_complete": False})
        if changes:
            await change_tasks(session, origin, [(existing, changes)])
