"""Sending accounts: adding them (CLI), listing them (API), and choosing one for an email."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.accounts import repository
from postroom.emails.rendering import EmailRecord
from postroom.errors import NotFound, ValidationFailed
from postroom.kit.ids import new_id
from postroom.kit.secrets import SecretBox
from postroom.models import EmailAccount
from postroom.transports.smtp import SmtpSettings
from postroom.transports.urls import smtp_settings_from_url, url_options
from postroom.users import repository as user_repository
from postroom.users.auth import Caller

DEFAULT_ROUTE = "default"


@dataclass(frozen=True)
class SendingRoute:
    """Which transport sends an email: an account's SMTP settings, or the default URL."""

    key: str
    account_id: str | None
    smtp: SmtpSettings | None = None


async def add_account(
    session: AsyncSession,
    box: SecretBox,
    user_email: str,
    smtp_url: str,
    security: str | None = None,
    make_default: bool = False,
) -> EmailAccount:
    user = await user_repository.find_user_by_email(session, user_email.strip().lower())
    if user is None:
        raise NotFound("User")
    smtp = _account_settings(smtp_url, security)
    if make_default:
        await repository.clear_default(session, user.id)
    account = EmailAccount(
        id=new_id("emailacct"),
        organization_id=user.organization_id,
        user_id=user.id,
        email=user.email,
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_username=smtp.username,
        password_sealed=box.seal(smtp.password) if smtp.password else None,
        smtp_security=smtp.security,
        is_default=make_default,
        send_status="ok",
    )
    repository.add(session, account)
    await session.flush()
    return account


ACCOUNT_URL_OPTIONS = frozenset({"starttls", "tls"})
"""The URL options an account keeps (as its security); it keeps no other column for them."""


def _account_settings(smtp_url: str, security: str | None) -> SmtpSettings:
    """The URL's settings, refused when it names an option the account would not keep (it
    always has 4 connections, a 30 s timeout, verified certificates, the default EHLO name):
    silently dropping ``?verify=0`` or ``?connections=1`` would send otherwise than asked."""
    try:
        smtp = smtp_settings_from_url(smtp_url, security)
    except ValueError as error:
        raise ValidationFailed.field("smtp_url", str(error)) from error
    dropped = sorted(url_options(smtp_url) - ACCOUNT_URL_OPTIONS)
    if dropped:
        named = ", ".join(f"?{option}" for option in dropped)
        raise ValidationFailed.field(
            "smtp_url",
            f"an account keeps no URL option but ?starttls and ?tls ({named} given): it always"
            " has 4 connections, a 30 s timeout, verified certificates and the default EHLO name",
        )
    return smtp


class UnreadableCredentials(Exception):
    """The account's stored SMTP password cannot be decrypted with this server's secret key
    (``POSTROOM_SECRET_KEY``, or the generated key file): it was stored under another one."""


def smtp_settings(account: EmailAccount, box: SecretBox) -> SmtpSettings:
    try:
        password = box.open(account.password_sealed) if account.password_sealed else None
    except ValueError as error:
        raise UnreadableCredentials(
            f"The SMTP password of account {account.id} cannot be decrypted with this"
            " server's secret key (POSTROOM_SECRET_KEY); add the account again, or start"
            " every server with the key it was added under."
        ) from error
    return SmtpSettings(
        host=account.smtp_host,
        port=account.smtp_port,
        username=account.smtp_username,
        password=password,
        security=account.smtp_security,
    )


async def route_for(
    session: AsyncSession, box: SecretBox, email: EmailRecord, has_default: bool
) -> SendingRoute | None:
    """The account the email names, else the default URL; None when that account is gone or
    there is no default URL; ``UnreadableCredentials`` when its password cannot be read. The
    user's default account was named when the email was queued (``emails.sending_account``):
    it is not looked up a second time, so an email is sent through the account it shows."""
    if not email.email_account_id:
        return SendingRoute(key=DEFAULT_ROUTE, account_id=None) if has_default else None
    account = await repository.get_account(session, email.organization_id, email.email_account_id)
    if account is None:
        return None
    key = f"{account.id}:{account.updated_at.isoformat()}"
    return SendingRoute(key=key, account_id=account.id, smtp=smtp_settings(account, box))


async def list_accounts(
    session: AsyncSession, caller: Caller, user_id: str | None, skip: int, limit: int
) -> Sequence[EmailAccount]:
    """The organization's accounts, newest first; with ``user_id``, only that user's."""
    return await repository.list_accounts(session, caller.organization_id, user_id, skip, limit)


async def get_account(session: AsyncSession, caller: Caller, account_id: str) -> EmailAccount:
    account = await repository.get_account(session, caller.organization_id, account_id)
    if account is None:
        raise NotFound("ConnectedAccount")
    return account
