"""Tasks as the API shows them, their request bodies and their list filters.

Three kinds are stored: ``lead`` and ``outgoing_call`` tasks (``task_…``), made through the
API, and ``email_followup`` tasks (``noti_…``), made by the follow-up scheduler. In the rows,
``_type`` is ``task_type`` and ``date`` is ``due_at``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from postroom.kit.datetimes import format_datetime
from postroom.kit.filters import refuse_if_given
from postroom.kit.schemas import Boolean, RequestModel
from postroom.kit.tenancy import PostedOrganization
from postroom.models import Task

MAX_TEXT = 100_000


class TaskType(StrEnum):
    """The task types Postroom stores."""

    LEAD = "lead"
    OUTGOING_CALL = "outgoing_call"
    EMAIL_FOLLOWUP = "email_followup"


API_TASK_TYPES = frozenset({TaskType.LEAD.value, TaskType.OUTGOING_CALL.value})
"""What API clients may create (Close: "only tasks of type lead and outgoing_call"), and
whose ``text`` they may change."""


CLOSE_TASK_TYPES = frozenset(
    {
        *TaskType,
        "incoming_email",
        "missed_call",
        "answered_detached_call",
        "voicemail",
        "opportunity_due",
        "incoming_sms",
    }
)
"""Every type Close knows: a filter on one Postroom never stores finds nothing, not a 400."""

ALL_TYPES = "all"


class TaskView(StrEnum):
    """``inbox``: incomplete, due by the end of the caller's day (or dateless); ``future``:
    incomplete, due from the caller's tomorrow; ``archive``: complete."""

    INBOX = "inbox"
    FUTURE = "future"
    ARCHIVE = "archive"


def start_of_tomorrow(now: datetime, tz: timezone | None) -> datetime:
    """Where the caller's ``future`` view starts: Close's ``inbox`` shows incomplete tasks "up
    to the end of the user's day", ``future`` those "starting from the user's tomorrow", in
    the caller's time zone (``X-TZ-Offset``, else UTC)."""
    local = now.astimezone(tz or UTC)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight + timedelta(days=1)).astimezone(UTC)


def current_view(task: Task, tomorrow: datetime) -> TaskView:
    if task.is_complete:
        return TaskView.ARCHIVE
    if task.due_at is not None and task.due_at >= tomorrow:
        return TaskView.FUTURE
    return TaskView.INBOX


class DueDateAlias(RequestModel):
    """``due_date``: Close's other name of a task's ``date`` in a create or update body (its
    update schema has both). Sent alone it sets ``date``; sent with a ``date`` naming another
    moment it is a 400 on ``due_date``. (The bulk update takes ``date`` only, as Close says.)

    ``is_dateless`` (also in Close's update schema) says the same from the other side:
    ``true`` clears the date (with a date beside it, a 400 on ``is_dateless``); ``false``
    needs a date, sent or stored (checked by the service); ``null`` is not sent."""

    date: datetime | None = None
    due_date: datetime | None = None
    is_dateless: Boolean | None = None

    @field_validator("due_date")
    @classmethod
    def _same_as_date(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        posted = info.data.get("date")
        if posted is not None and posted != value:
            raise ValueError("date and due_date name different times: send one of them.")
        return value

    @field_validator("is_dateless")
    @classmethod
    def _dateless_has_no_date(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        """Close's ``is_dateless`` (in its task update schema): ``true`` is a task with no
        ``date``, so ``true`` beside a date names two things at once."""
        dated = info.data.get("date") is not None or info.data.get("due_date") is not None
        if value is True and dated:
            raise ValueError("A dateless task has no date: send is_dateless or a date.")
        return value

    @model_validator(mode="after")
    def _due_date_is_date(self) -> DueDateAlias:
        if "due_date" in self.model_fields_set and self.date is None:
            self.date = self.due_date  # marks ``date`` as sent
        if self.is_dateless is True:
            self.date = None  # marks ``date`` as sent: the task's date is cleared
        return self


UNKEPT_FIELDS = {
    "priority": "Postroom keeps no task priority: leave priority out (or null).",
    "resolution": "Postroom keeps no task resolution: leave resolution out (or null).",
}
"""Fields of Close's task update schema that Postroom does not store: a value is a 400 on
the field, never a 200 for a change not made; ``null`` (nothing to keep) is accepted."""


class UnkeptFields(RequestModel):
    priority: Any = None
    resolution: Any = None

    @field_validator("priority", "resolution")
    @classmethod
    def _not_kept(cls, value: Any, info: ValidationInfo) -> None:
        if value is not None:
            raise ValueError(UNKEPT_FIELDS[str(info.field_name)])


class TaskCreate(DueDateAlias, UnkeptFields, PostedOrganization):
    """A ``lead`` or ``outgoing_call`` task (the same fields: Close documents no others);
    ``date`` (or ``due_date``) may be a datetime or a plain date (naive: ``X-TZ-Offset``)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    task_type: str = Field(default=TaskType.LEAD.value, alias="_type", max_length=64)
    lead_id: str = Field(max_length=64)
    contact_id: str | None = Field(default=None, max_length=64)
    text: str = Field(default="", max_length=MAX_TEXT)
    assigned_to: str | None = Field(default=None, max_length=64)
    is_complete: Boolean = False


class TaskChanges(RequestModel):
    """The fields any task's update may set: a task's PUT takes them (and ``text``), Close's
    bulk update only them."""

    date: datetime | None = None
    assigned_to: str | None = Field(default=None, max_length=64)
    is_complete: Boolean = False


class TaskUpdate(DueDateAlias, TaskChanges, UnkeptFields, PostedOrganization):
    """PUT behaves as PATCH: only the fields sent change; ``text`` and ``contact_id`` only on
    tasks made through the API; ``due_date`` is ``date``."""

    text: str = Field(default="", max_length=MAX_TEXT)
    contact_id: str | None = Field(default=None, max_length=64)
    lead_id: str | None = Field(default=None, max_length=64)
    """Not changeable: a task stays on its lead; only its own lead may be posted back."""


class TaskBulkUpdate(TaskChanges):
    """The body of ``PUT /task/`` (Close: "only the ``assigned_to``, ``date`` and
    ``is_complete`` fields may be updated"). Other fields are kept, so that the bulk update
    can refuse each by name (documented as not allowed)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False})


class TaskListQuery(RequestModel):
    """Filters; list-valued ones are comma-separated. Naive datetimes follow ``X-TZ-Offset``.

    ``due_date`` is Close's other name of ``date`` (its tasks have both, with one value): its
    filters are ``date``'s, under that name.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type_filter: str | None = Field(default=None, alias="_type")
    type_in: str | None = Field(default=None, alias="_type__in")
    order_by: str | None = Field(default=None, alias="_order_by")
    task_id: str | None = Field(default=None, alias="id", max_length=64)
    id__in: str | None = None
    lead_id: str | None = None
    organization_id: str | None = None
    assigned_to: str | None = None
    is_complete: bool | None = None
    view: TaskView | None = None
    date: str | None = None
    date__gt: str | None = None
    date__gte: str | None = None
    date__lt: str | None = None
    date__lte: str | None = None
    due_date: str | None = None
    due_date__gt: str | None = None
    due_date__gte: str | None = None
    due_date__lt: str | None = None
    due_date__lte: str | None = None
    date_created__gt: str | None = None
    date_created__gte: str | None = None
    date_created__lt: str | None = None
    date_created__lte: str | None = None
    date_updated__gt: str | None = None
    date_updated__gte: str | None = None
    date_updated__lt: str | None = None
    date_updated__lte: str | None = None
    response_format: str | None = Field(
        default=None,
        alias="format",
        description="Not supported (Close does not say what it does): any value is a 400.",
    )

    @field_validator("response_format")
    @classmethod
    def _no_other_format(cls, value: str | None) -> None:
        """Close's description names ``format`` and says nothing of it: a value Postroom cannot
        know the meaning of is refused, not ignored."""
        refuse_if_given(
            value, "Postroom lists tasks in one format, the JSON page: leave format out."
        )


class TaskOut(BaseModel):
    """The response object (documentation only; responses are rendered by ``render_task``)."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    task_type: str = Field(alias="_type")
    organization_id: str
    lead_id: str
    lead_name: str | None
    contact_id: str | None
    assigned_to: str | None
    assigned_to_name: str | None
    text: str
    date: str | None
    due_date: str | None
    """Close's other name of ``date``: the same value."""
    is_complete: bool
    is_dateless: bool
    view: TaskView
    object_type: str | None
    object_id: str | None
    email_id: str | None
    subject: str | None
    body_preview: str | None
    created_by: str | None
    updated_by: str | None
    date_created: str
    date_updated: str


class TaskList(BaseModel):
    data: list[TaskOut]
    has_more: bool


@dataclass(frozen=True)
class TaskPage:
    """Tasks with the display names they mention; ``tomorrow`` is where their ``future`` view
    starts (``start_of_tomorrow``)."""

    tasks: Sequence[Task]
    lead_names: Mapping[str, str]
    user_names: Mapping[str, str]
    tomorrow: datetime

    def by_lead(self) -> dict[str, TaskPage]:
        """The page cut into one page per lead (a list of leads reads their tasks at once), in
        one pass over the tasks; a lead without tasks has no entry."""
        tasks: dict[str, list[Task]] = {}
        for task in self.tasks:
            tasks.setdefault(task.lead_id, []).append(task)
        return {lead_id: replace(self, tasks=listed) for lead_id, listed in tasks.items()}


def no_tasks(now: datetime) -> TaskPage:
    """An empty page (a lead just created has no tasks yet)."""
    return TaskPage((), {}, {}, start_of_tomorrow(now, None))


def render_task(task: Task, page: TaskPage) -> dict[str, Any]:
    return {
        "id": task.id,
        "_type": task.task_type,
        "organization_id": task.organization_id,
        "lead_id": task.lead_id,
        "lead_name": page.lead_names.get(task.lead_id) or None,
        "contact_id": task.contact_id,
        "assigned_to": task.assigned_to,
        "assigned_to_name": page.user_names.get(task.assigned_to or ""),
        "text": task.text,
        "date": format_datetime(task.due_at),
        "due_date": format_datetime(task.due_at),
        "is_complete": task.is_complete,
        "is_dateless": task.due_at is None,
        "view": current_view(task, page.tomorrow).value,
        "object_type": task.object_type,
        "object_id": task.object_id,
        "email_id": task.email_id,
        "subject": task.subject,
        "body_preview": task.body_preview,
        "created_by": task.created_by,
        "updated_by": task.updated_by,
        "date_created": format_datetime(task.created_at),
        "date_updated": format_datetime(task.updated_at),
    }


class TaskBulkQuery(TaskListQuery):
    """The query of ``PUT /task/``: the list's filters. Other parameters are kept, so that
    the bulk update can refuse each by name."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
