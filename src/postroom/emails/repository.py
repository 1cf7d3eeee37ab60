"""Every SQL statement about email activities.

Cancels and deletes of queued emails are conditional statements: they only touch a row the
dispatcher has not claimed (``claimed_by IS NULL``), so whichever of cancel and claim commits
first wins and the other sees it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Row,
    Select,
    UnaryExpression,
    bindparam,
    delete,
    select,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import KeyedColumnElement

from postroom.emails.states import QUEUED, EmailStatus
from postroom.kit.datetimes import UTCDateTime, UTCDateTimeText
from postroom.kit.jsoncodec import JSONFragmentRead
from postroom.kit.sql import COMPARATORS, affected_rows, for_change
from postroom.models import EmailActivity, User
from postroom.users import repository as user_repository


@dataclass
class EmailFilter:
    """Conditions of ``GET /activity/email/``, all optional, combined with AND. A list filter
    is ``None`` when not asked for; an empty list matches nothing."""

    lead_ids: list[str] | None = None
    contact_ids: list[str] | None = None
    user_ids: list[str] | None = None
    ids: list[str] | None = None
    statuses: list[EmailStatus] | None = None
    thread_ids: list[str] | None = None
    created_after: dict[str, datetime] = field(default_factory=dict)
    activity_after: dict[str, datetime] = field(default_factory=dict)
    order_by: str = "-date_created"
    """A key of ``ORDER_COLUMNS``, with a leading ``-`` for newest first."""
    types: list[str] | None = None
    """Close's activity types asked for (``_type``): the service lists emails for ``Email``
    only; not a condition of the statement."""
    organization_id: str | None = None
    """The organization asked for: the service refuses any but the caller's; not a condition
    of the statement (every statement is the caller's organization's)."""


_LIST_FILTERS = {
    "lead_ids": EmailActivity.lead_id,
    "contact_ids": EmailActivity.contact_id,
    "user_ids": EmailActivity.user_id,
    "ids": EmailActivity.id,
    "thread_ids": EmailActivity.thread_id,
    "statuses": EmailActivity.status,
}
_DATE_FILTERS = {
    "created_after": EmailActivity.created_at,
    "activity_after": EmailActivity.activity_at,
}
ORDER_COLUMNS = {
    "date_created": EmailActivity.created_at,
    "activity_at": EmailActivity.activity_at,
}
"""What a page may be ordered by; ties are broken by id, in the same direction."""
UNSHOWN_COLUMNS = frozenset(
    {
        "message_id",
        "due_at",
        "claimed_by",
        "claimed_at",
        "lease_expires_at",
        "attempt_count",
        "send_started_at",
        "open_token",
        "followup_done_at",
    }
)
"""Columns the API never shows: the dispatcher's and the tracker's bookkeeping, and the
unique first Message-ID (the API shows ``message_ids``)."""
DECODED_JSON_COLUMNS = frozenset({"opens"})
"""The one JSON column a page reads for more than showing it (``opens_summary``)."""


def _listed_column(column: KeyedColumnElement[Any]) -> ColumnElement[Any]:
    if isinstance(column.type, UTCDateTime):
        return type_coerce(column, UTCDateTimeText()).label(column.key)
    if isinstance(column.type, JSON) and column.key not in DECODED_JSON_COLUMNS:
        return type_coerce(column, JSONFragmentRead()).label(column.key)
    return column


LISTED_COLUMNS = tuple(
    _listed_column(column)
    for column in EmailActivity.__table__.columns
    if column.key not in UNSHOWN_COLUMNS
)
"""A page's columns: datetimes read as the API's text (see ``UTCDateTimeText``), JSON columns
other than ``opens`` as their JSON text, unparsed (see ``JSONFragmentRead``)."""


def _page_shape(
    organization_id: str, where: EmailFilter, skip: int, limit: int
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """Which conditions a page request has (its statement's shape) and their values."""
    shape: list[str] = []
    values: dict[str, Any] = {"organization_id": organization_id, "skip": skip, "limit": limit}
    for name in _LIST_FILTERS:
        chosen = getattr(where, name)
        if chosen is not None:
            shape.append(name)
            values[name] = list(chosen)
    for name in _DATE_FILTERS:
        for operator, moment in getattr(where, name).items():
            key = f"{name}_{operator}"
            shape.append(key)
            values[key] = moment
    return tuple(shape), values


def _ordering(order_by: str) -> tuple[UnaryExpression[Any], UnaryExpression[Any]]:
    """``created_at`` as its indexes hold it; ``activity_at`` (nullable, and sorted anyway)
    with nulls last, where SQLite and PostgreSQL would put them at opposite ends."""
    name = order_by.removeprefix("-")
    column = ORDER_COLUMNS[name].desc() if order_by.startswith("-") else ORDER_COLUMNS[name].asc()
    tie = EmailActivity.id.desc() if order_by.startswith("-") else EmailActivity.id.asc()
    return (column.nulls_last() if name == "activity_at" else column), tie


@lru_cache(maxsize=256)
def _page_statement(shape: tuple[str, ...], order_by: str) -> Select[Any]:
    """The page statement of one shape, built once with bound parameters: building and
    caching a statement cost more than a page of SQL on SQLite."""
    conditions: list[ColumnElement[bool]] = [
        EmailActivity.organization_id == bindparam("organization_id")
    ]
    for key in shape:
        if key in _LIST_FILTERS:
            conditions.append(_LIST_FILTERS[key].in_(bindparam(key, expanding=True)))
        else:
            name, _, operator = key.rpartition("_")
            conditions.append(COMPARATORS[operator](_DATE_FILTERS[name], bindparam(key)))
    return (
        select(*LISTED_COLUMNS)
        .where(*conditions)
        .order_by(*_ordering(order_by))
        .offset(bindparam("skip"))
        .limit(bindparam("limit"))
    )


async def list_emails(
    session: AsyncSession, organization_id: str, where: EmailFilter, skip: int, limit: int
) -> Sequence[Row[Any]]:
    """A page of emails as plain rows of their table's shown columns, run as Core on the
    session's connection (read-only: no ORM objects to build, which was a third of a list
    request). Rows have the model's attribute names."""
    shape, values = _page_shape(organization_id, where, skip, limit)
    statement: Select[Any] = _page_statement(shape, where.order_by)
    connection = await session.connection()
    rows: Sequence[Row[Any]] = (await connection.execute(statement, values)).all()
    return rows


# Both statements are built once (most requests read one email by id): building one costs
# more than running it. They share their conditions, so they cannot drift apart.
ONE_EMAIL_OF_ORGANIZATION = (
    EmailActivity.id == bindparam("email_id"),
    EmailActivity.organization_id == bindparam("organization_id"),
)
EMAIL_BY_ID = select(EmailActivity).where(*ONE_EMAIL_OF_ORGANIZATION)
EMAIL_BY_ID_LOCKED = for_change(EMAIL_BY_ID, locked=True)
EMAIL_ROW_BY_ID = select(*LISTED_COLUMNS).where(*ONE_EMAIL_OF_ORGANIZATION)


async def get_email(
    session: AsyncSession, organization_id: str, email_id: str, locked: bool = False
) -> EmailActivity | None:
    """The email; ``locked``: for a change (``kit.sql.for_change``)."""
    parameters = {"email_id": email_id, "organization_id": organization_id}
    statement = EMAIL_BY_ID_LOCKED if locked else EMAIL_BY_ID
    return (await session.execute(statement, parameters)).scalar_one_or_none()


async def read_email_row(
    session: AsyncSession, organization_id: str, email_id: str
) -> Row[Any] | None:
    """One email as a page's row, for reading only (``GET`` one): no ORM object to build."""
    parameters = {"email_id": email_id, "organization_id": organization_id}
    connection = await session.connection()
    row: Row[Any] | None = (await connection.execute(EMAIL_ROW_BY_ID, parameters)).first()
    return row


async def email_by_message_id(
    session: AsyncSession, organization_id: str, message_ids: Sequence[str]
) -> EmailActivity | None:
    """The email of the organization whose Message-ID is one of ``message_ids``."""
    if not message_ids:
        return None
    statement = (
        select(EmailActivity)
        .where(
            EmailActivity.organization_id == organization_id,
            EmailActivity.message_id.in_(list(message_ids)),
        )
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def user_names(session: AsyncSession, user_ids: set[str]) -> dict[str, str]:
    """Display names of the given users (for ``user_name``, ``created_by_name`` ...).

    Remembered for the rest of the transaction: one request renders an email several times
    (its response, its event, its thread's event).
    """
    known = user_repository.known_user_names(session)
    missing = user_ids - known.keys()
    if missing:
        rows = (await session.execute(USER_NAMES, {"ids": list(missing)})).all()
        known.update({row.id: user_repository.display_name(row) for row in rows})
    return {user_id: known[user_id] for user_id in user_ids if user_id in known}


USER_NAMES = select(User.id, User.first_name, User.last_name, User.email).where(
    User.id.in_(bindparam("ids", expanding=True))
)
"""Built once; only the columns of a display name."""


EMAIL_CHUNK = 500
"""Emails a cascade (a lead's or a contact's deletion) holds in memory at once: with bodies,
rendered events and ORM state, an email costs about 18 KB of the server's memory there."""


def emails_of_lead(session: AsyncSession, lead_id: str) -> AsyncIterator[Sequence[EmailActivity]]:
    """Every email of the lead, oldest activity first, in chunks (``email_chunks``)."""
    return email_chunks(session, EmailActivity.lead_id == lead_id)


def emails_of_contact(
    session: AsyncSession, contact_id: str
) -> AsyncIterator[Sequence[EmailActivity]]:
    """Every email naming the contact, oldest activity first, in chunks (``email_chunks``)."""
    return email_chunks(session, EmailActivity.contact_id == contact_id)


async def email_chunks(
    session: AsyncSession, condition: ColumnElement[bool]
) -> AsyncIterator[Sequence[EmailActivity]]:
    """The emails matching ``condition``, oldest activity first, ``EMAIL_CHUNK`` at a time:
    their ids are read first, each chunk is loaded when its turn comes and leaves the session
    when the next is asked for, so finish (flush) a chunk's changes before going on. A chunk
    is loaded locked, as a cascade changes or deletes it (``kit.sql.for_change``): an email
    deleted meanwhile is left out, instead of a ``StaleDataError`` or a second ``deleted``
    event."""
    order = (EmailActivity.activity_at, EmailActivity.created_at, EmailActivity.id)
    ids = (
        (await session.execute(select(EmailActivity.id).where(condition).order_by(*order)))
        .scalars()
        .all()
    )
    for start in range(0, len(ids), EMAIL_CHUNK):
        wanted = ids[start : start + EMAIL_CHUNK]
        statement = select(EmailActivity).where(EmailActivity.id.in_(wanted)).order_by(*order)
        chunk = (await session.execute(for_change(statement, locked=True))).scalars().all()
        yield chunk
        for email in chunk:
            session.expunge(email)


async def cancel_delivery(session: AsyncSession, email: EmailActivity, now: datetime) -> bool:
    """Move a queued, unclaimed email back to draft. False when the dispatcher got it first."""
    statement = (
        update(EmailActivity)
        .where(
            EmailActivity.id == email.id,
            EmailActivity.status.in_(list(QUEUED)),
            EmailActivity.claimed_by.is_(None),
        )
        .values(status=EmailStatus.DRAFT.value, due_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    cancelled = affected_rows(await session.execute(statement)) == 1
    await session.refresh(email)
    return cancelled


async def delete_unclaimed(session: AsyncSession, email: EmailActivity) -> bool:
    """Delete the email unless the dispatcher has claimed it. False when it had."""
    statement = (
        delete(EmailActivity)
        .where(EmailActivity.id == email.id, EmailActivity.claimed_by.is_(None))
        .execution_options(synchronize_session=False)
    )
    deleted = affected_rows(await session.execute(statement)) == 1
    session.expunge(email)
    return deleted


def add(session: AsyncSession, email: EmailActivity) -> None:
    session.add(email)
