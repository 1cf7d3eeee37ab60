"""The account an email is sent through (``email_account_id``): whose it may be, and which
one a queued email gets when none is named."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.accounts import repository as account_repository
from postroom.emails.rules import ACCOUNT_NAMES, FieldProblems
from postroom.emails.schemas import EmailActivityFields
from postroom.emails.states import QUEUED, EmailStatus
from postroom.models import EmailActivity
from postroom.users.auth import Caller


async def check_account(
    session: AsyncSession,
    caller: Caller,
    body: EmailActivityFields,
    problems: FieldProblems,
    stored: EmailActivity | None,
) -> None:
    """The sending account, posted or kept, must be one of the email's user's own: a user does
    not send through a colleague's mailbox. A posted null clears the account: nothing to check
    (a draft handed to a colleague may drop the account it was given)."""
    posted_user = body.user_id if "user_id" in body.model_fields_set else None
    if body.account is None and posted_user is None:
        return  # neither the account nor its user changes
    posts_account = bool(ACCOUNT_NAMES & body.model_fields_set)
    kept_account = stored.email_account_id if stored and not posts_account else None
    account_id = body.account if body.account is not None else kept_account
    if not account_id:
        return
    account = await account_repository.get_account(session, caller.organization_id, account_id)
    user_id = posted_user or (stored.user_id if stored else caller.user_id)
    field = body.account_field if body.account is not None else "email_account_id"
    if account is None:
        problems.add(field, "Sending account not found.")
    elif account.user_id != user_id:
        problems.add(field, "The sending account belongs to another user.")


async def default_to_users_account(session: AsyncSession, email: EmailActivity) -> None:
    """A queued email (``outbox``, ``scheduled``) that names no account gets its user's
    default one, so that ``email_account_id`` says which account sends it. A user without an
    account leaves it null: the default SMTP URL sends such an email. Emails logged as they
    are (``inbox``, ``sent``, ``draft``, ``error``) are not sent and get none."""
    if EmailStatus(email.status) not in QUEUED or email.email_account_id or not email.user_id:
        return
    email.email_account_id = await account_repository.default_account_id(session, email.user_id)
