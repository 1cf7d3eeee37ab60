"""Rules of the Email activity resource: create, read, list, update (with the state machine)
and delete. Never commits; the request's session is committed at the edge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.config import Settings
from postroom.dispatch import repository as dispatch_repository
from postroom.emails import event_log, references, repository, rules
from postroom.emails.attachments import resolve_attachments
from postroom.emails.filters import EMAIL_TYPE
from postroom.emails.ordering import check_order
from postroom.emails.queueing import apply_changes, refresh_derived, schedule
from postroom.emails.rendering import EmailRecord, user_ids_of_all
from postroom.emails.repository import EmailFilter
from postroom.emails.rules import FieldProblems
from postroom.emails.schemas import EmailActivityCreate, EmailActivityFields, EmailActivityUpdate
from postroom.emails.sending_account import default_to_users_account
from postroom.emails.states import QUEUED, EmailStatus, allows_edits, check_transition, is_cancel
from postroom.emails.templating import apply_template
from postroom.errors import NotFound, ValidationFailed
from postroom.events.service import Change, Origin, record_many
from postroom.kit.addresses import bare_address, with_ascii_domain
from postroom.kit.datetimes import localize, utcnow
from postroom.kit.filters import check_own_organization
from postroom.kit.headers import as_message_id, new_message_id
from postroom.kit.ids import new_id
from postroom.kit.tenancy import check_posted_organization
from postroom.models import EmailActivity
from postroom.threads import service as thread_service
from postroom.threads.service import Placement
from postroom.tracking.service import new_open_token
from postroom.users import repository as user_repository
from postroom.users.auth import Caller


@dataclass(frozen=True)
class EmailPage:
    emails: Sequence[EmailRecord]
    names: dict[str, str]


async def _default_sender(session: AsyncSession, caller: Caller, user_id: str | None) -> str:
    """For logged ``sent`` emails: the email's user, else the key's owner."""
    user = None
    if user_id:
        user = await user_repository.get_user(session, caller.organization_id, user_id)
    email, name = (user.email, user.full_name) if user else (caller.user_email, caller.user_name)
    safe_name = name.replace('"', "").replace("\\", "")
    return f'"{safe_name}" <{email}>' if safe_name else email


def _new_message_id(sender: str | None, fallback_domain: str) -> str:
    """With the sender's domain (in IDNA A-labels: a Message-ID in UTF-8 would need SMTPUTF8
    to be sent), else ``fallback_domain``."""
    address = with_ascii_domain(bare_address(sender)) if sender else ""
    return new_message_id(address.rpartition("@")[2] or fallback_domain)


async def create_email(
    session: AsyncSession, caller: Caller, body: EmailActivityCreate, settings: Settings
) -> EmailActivity:
    problems = FieldProblems()
    parent = await references.check_create_references(session, caller, body, problems)
    problems.raise_if_any()
    posted = posted_message_ids(body)
    existing = await repository.email_by_message_id(session, caller.organization_id, posted)
    if existing is not None:
        return existing
    now = utcnow()
    email = _new_email(caller, body, now)
    if body.status is EmailStatus.SENT and not email.sender:
        email.sender = await _default_sender(session, caller, email.user_id)
    if not email.message_ids and body.status is not EmailStatus.INBOX:
        email.message_ids = [_new_message_id(email.sender, settings.message_domain)]
    email.message_id = email.message_ids[0] if email.message_ids else None
    if body.status is not EmailStatus.INBOX:
        email.open_token = new_open_token()
    await apply_template(session, email, given_fields(body), caller.user_id)
    rules.check_fits_status(email, body.model_fields_set, now, problems)
    problems.raise_if_any()
    if email.attachments:
        email.attachments = await resolve_attachments(
            session, caller, email.attachments, settings.max_file_bytes
        )
    await default_to_users_account(session, email)
    schedule(email, now)
    refresh_derived(email)
    stored, placement = await _place_and_insert(session, email, parent, now, bool(posted))
    if placement is not None:
        await event_log.email_created(session, Origin.of(caller), email, placement)
    return stored


def given_fields(body: EmailActivityFields) -> set[str]:
    """Fields the request sent with a value (null and empty strings do not count)."""
    return {name for name in body.model_fields_set if getattr(body, name) not in (None, "")}


def posted_message_ids(body: EmailActivityCreate) -> list[str]:
    """Message-IDs a logged email brings along (``message_ids`` or ``envelope.message_id``)."""
    posted = list(body.message_ids or [])
    envelope_id = (body.envelope or {}).get("message_id")
    if not posted and isinstance(envelope_id, str) and envelope_id.strip():
        posted = [as_message_id(envelope_id)]
    return posted


async def _place_and_insert(
    session: AsyncSession,
    email: EmailActivity,
    parent: EmailActivity | None,
    now: datetime,
    posted: bool,
) -> tuple[EmailActivity, Placement | None]:
    """Place the email in its thread and insert it, with its placement. If its posted
    Message-ID was logged meanwhile, answer with that email (and no placement): placing and
    inserting share a savepoint, so nothing of this one stays, neither the thread it started
    nor the sent emails it marked replied.

    A Message-ID Postroom made itself is new, so it needs no savepoint to recover from a clash.
    """
    if not posted:
        placement = await _placed_and_inserted(session, email, parent, now)
    else:
        try:
            async with session.begin_nested():
                placement = await _placed_and_inserted(session, email, parent, now)
        except IntegrityError:
            existing = await repository.email_by_message_id(
                session, email.organization_id, [email.message_id or ""]
            )
            if existing is None:
                raise
            return existing, None
    await dispatch_repository.signal_due_change(session, email.due_at, email.followup_at)
    return email, placement


async def _placed_and_inserted(
    session: AsyncSession, email: EmailActivity, parent: EmailActivity | None, now: datetime
) -> Placement:
    placement = await thread_service.place(session, email, parent, now)
    repository.add(session, email)
    await session.flush()
    return placement


def _new_email(caller: Caller, body: EmailActivityCreate, now: datetime) -> EmailActivity:
    tz = caller.tz
    columns = rules.posted_columns(body, tz)
    created_at = localize(body.date_created, tz) if body.date_created else now
    email = EmailActivity(
        id=new_id("acti"),
        organization_id=caller.organization_id,
        lead_id=body.lead_id,
        user_id=caller.user_id,
        created_by=body.creator or caller.user_id,
        updated_by=caller.user_id,
        created_at=created_at,
        updated_at=now,
        status=body.status.value,
        to_addresses=[],
        cc_addresses=[],
        bcc_addresses=[],
        attachments=[],
        message_ids=posted_message_ids(body),
        references=list(body.references or []),
        envelope=body.envelope,
        opens=[],
        send_attempts=[],
        has_reply=False,
        followup_sequence_add_cc_bcc=False,
        attempt_count=0,
        need_smtp_credentials=False,
    )
    for column, value in columns.items():
        setattr(email, column, value)
    email.user_id = email.user_id or caller.user_id
    sent_at = _posted_sent_at(body, tz)
    email.activity_at = email.activity_at or sent_at or created_at
    if body.status is EmailStatus.SENT:
        email.sent_at = sent_at or email.activity_at
    return email


def _posted_sent_at(body: EmailActivityCreate, tz: timezone | None) -> datetime | None:
    """A logged ``sent`` email's posted ``date_sent``: when it happened, so its
    ``activity_at`` unless one is posted too."""
    if body.status is EmailStatus.SENT and body.date_sent:
        return localize(body.date_sent, tz)
    return None


async def get_email(
    session: AsyncSession, caller: Caller, email_id: str, locked: bool = False
) -> EmailActivity:
    """The caller's email; ``locked`` for a change: a concurrent change of the same email
    waits for this one and then sees its result (one winner, no lost or stale write)."""
    email = await repository.get_email(session, caller.organization_id, email_id, locked)
    if email is None:
        raise NotFound("EmailActivity")
    return email


async def read_email(session: AsyncSession, caller: Caller, email_id: str) -> Row[Any]:
    """The email to show, as a row of its shown columns (nothing in the request changes it)."""
    row = await repository.read_email_row(session, caller.organization_id, email_id)
    if row is None:
        raise NotFound("EmailActivity")
    return row


async def names_for(session: AsyncSession, emails: Sequence[EmailRecord]) -> dict[str, str]:
    return await repository.user_names(session, user_ids_of_all(emails))


async def list_emails(
    session: AsyncSession, caller: Caller, where: EmailFilter, skip: int, limit: int
) -> EmailPage:
    check_own_organization(where.organization_id, caller.organization_id)
    check_order(where)
    if not lists_emails(where):
        return EmailPage([], {})
    emails = await repository.list_emails(session, caller.organization_id, where, skip, limit)
    return EmailPage(emails, await names_for(session, emails))


def lists_emails(where: EmailFilter) -> bool:
    """``_type``: emails are listed unless only other activity types were asked for."""
    return where.types is None or EMAIL_TYPE in where.types


def _edited_columns(email: EmailActivity, changes: dict[str, object]) -> set[str]:
    return {column for column, value in changes.items() if getattr(email, column) != value}


async def update_email(
    session: AsyncSession,
    caller: Caller,
    email_id: str,
    body: EmailActivityUpdate,
    settings: Settings,
) -> EmailActivity:
    email = await get_email(session, caller, email_id, locked=True)
    check_posted_organization(body, caller.organization_id)
    rules.check_stays_on_lead(body, email)
    before = await event_log.rendered(session, email)
    current = EmailStatus(email.status)
    target = body.status or current
    check_transition(current, target)
    changes = rules.posted_columns(body, caller.tz)
    edited = _edited_columns(email, changes)
    if not edited and target is current:
        return email  # a PUT that changes nothing changes nothing: no date_updated, no event
    changes = {column: value for column, value in changes.items() if column in edited}
    content_edits = edited - {"opens", "followup_at"}
    _check_editable(content_edits, current, target)
    problems = FieldProblems()
    parent = await references.check_references(
        session, caller, email.lead_id, body, problems, email
    )
    problems.raise_if_any()
    if "attachments" in content_edits:
        changes["attachments"] = await resolve_attachments(
            session, caller, changes["attachments"], settings.max_file_bytes
        )
    now = utcnow()
    await _cancel_if_cancelling(session, email, current, target, now)
    replaced_template_id = email.template_id
    moving = "in_reply_to_id" in content_edits
    old_thread = (
        await event_log.thread_before(session, email.organization_id, email.thread_id)
        if moving or "contact_id" in content_edits
        else None
    )
    apply_changes(email, changes, target, caller, now)
    if "template_id" in content_edits:
        await _apply_template_on_update(
            session, caller, email, given_fields(body), settings, replaced_template_id
        )
    posted = rules.changed_fields(body, edited, new_status=current is not target)
    rules.check_fits_status(email, posted, now, problems)
    problems.raise_if_any()
    if current is not target:
        await default_to_users_account(session, email)
    threads = await _thread_changes(session, email, parent, now, old_thread, moving)
    await session.flush()
    if (target in QUEUED and current is not target) or "followup_at" in changes:
        await dispatch_repository.signal_due_change(session, email.due_at, email.followup_at)
    origin = Origin.of(caller)
    await event_log.email_changed(session, origin, email, "updated", before)
    await record_many(session, [(origin, change) for change in threads])
    return email


async def _thread_changes(
    session: AsyncSession,
    email: EmailActivity,
    parent: EmailActivity | None,
    now: datetime,
    old_thread: dict[str, Any] | None,
    moving: bool,
) -> list[Change]:
    """The events of the threads an updated email changed: it moved, or the thread it
    started follows its new contact."""
    if moving:
        return await thread_service.move(session, email, parent, now, old_thread)
    followed = await thread_service.follow_contact(session, email, now, old_thread)
    return [] if followed is None else [followed]


def _check_editable(content_edits: set[str], current: EmailStatus, target: EmailStatus) -> None:
    if content_edits and not allows_edits(current, target):
        raise ValidationFailed.field(
            "status", f"Only drafts can be modified; this email is {current.value}."
        )


async def _cancel_if_cancelling(
    session: AsyncSession,
    email: EmailActivity,
    current: EmailStatus,
    target: EmailStatus,
    now: datetime,
) -> None:
    """A cancel moves the email back to draft unless the dispatcher claimed it first (one
    conditional update, ``repository.cancel_delivery``)."""
    if is_cancel(current, target) and not await repository.cancel_delivery(session, email, now):
        raise ValidationFailed.field(
            "status", "This email is already being sent and can no longer be cancelled."
        )


async def _apply_template_on_update(
    session: AsyncSession,
    caller: Caller,
    email: EmailActivity,
    posted: set[str],
    settings: Settings,
    replaced_template_id: str | None,
) -> None:
    """A draft that now names another template (or none) gets it rendered in, its
    attachments in place of those of the template it replaces."""
    before = list(email.attachments)
    await apply_template(session, email, posted, caller.user_id, replaced_template_id)
    if email.attachments != before:
        email.attachments = await resolve_attachments(
            session, caller, email.attachments, settings.max_file_bytes
        )
    refresh_derived(email)
