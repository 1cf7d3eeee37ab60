"""The objects a posted email names (its lead, contact, user, sending account, creator and the
email it replies to): each must be the caller's organization's and fit the email, or the field
that named it gets a problem."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.contacts import repository as contact_repository
from postroom.emails import repository, rules
from postroom.emails.rules import FieldProblems
from postroom.emails.schemas import EmailActivityCreate, EmailActivityFields
from postroom.emails.sending_account import check_account
from postroom.kit.tenancy import organization_problem
from postroom.leads import repository as lead_repository
from postroom.models import EmailActivity
from postroom.users import repository as user_repository
from postroom.users.auth import Caller


async def check_references(
    session: AsyncSession,
    caller: Caller,
    lead_id: str,
    body: EmailActivityFields,
    problems: FieldProblems,
    stored: EmailActivity | None = None,
) -> EmailActivity | None:
    """Contact on the lead, user in the organization, account of the email's user (``stored``:
    the email being updated, if any); return the replied-to email."""
    sent = body.model_fields_set
    named = stored.contact_id if stored is not None else None
    if "contact_id" in sent and body.contact_id not in (None, named):
        await _check_contact(session, caller, lead_id, body.contact_id, problems)
    if "user_id" in sent and body.user_id is not None:
        if await user_repository.get_user(session, caller.organization_id, body.user_id) is None:
            problems.add("user_id", "User not found.")
    elif "user_id" in sent and stored is not None and stored.user_id is not None:
        problems.add("user_id", "An email always has a user; name one, or leave user_id out.")
    await check_account(session, caller, body, problems, stored)
    if "in_reply_to_id" not in sent or body.in_reply_to_id is None:
        return None
    parent = await repository.get_email(session, caller.organization_id, body.in_reply_to_id)
    if parent is None or parent.lead_id != lead_id:
        problems.add("in_reply_to_id", "Email not found on this lead.")
        return None
    if stored is not None and rules.replies_to(parent, stored):
        problems.add("in_reply_to_id", "An email cannot reply to itself or to one of its replies.")
        return None
    return parent


async def _check_contact(
    session: AsyncSession, caller: Caller, lead_id: str, contact_id: str, problems: FieldProblems
) -> None:
    """A contact the email is about to name: on its lead, and kept from deletion until the
    email is written. A contact it names already is not checked again: locking it there
    would take the email and then the contact, the contact's deletion takes them the other
    way round."""
    found = await contact_repository.get_referenced_contact(
        session, caller.organization_id, contact_id
    )
    if found is None or found.lead_id != lead_id:
        problems.add("contact_id", "Contact not found on this lead.")


async def check_create_references(
    session: AsyncSession, caller: Caller, body: EmailActivityCreate, problems: FieldProblems
) -> EmailActivity | None:
    if not await lead_repository.lead_exists(session, caller.organization_id, body.lead_id):
        problems.add("lead_id", "Lead not found.")
        return None
    parent = await check_references(session, caller, body.lead_id, body, problems)
    if (problem := organization_problem(body, caller.organization_id)) is not None:
        problems.add("organization_id", problem)
    creator = body.creator
    if creator and await user_repository.get_user(session, caller.organization_id, creator) is None:
        problems.add("created_by" if body.created_by else "created_by_id", "User not found.")
    return parent
