"""``email_account_id`` names the account that sends an email (spec §2.1: "default: the user's
default account"): a queued email gets its user's default account when it names none; logged
emails, which are not sent, get none."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from fastapi import FastAPI
from sqlalchemy import update

from postroom import migrate
from postroom.app import create_app
from postroom.config import Settings
from postroom.db import Database
from postroom.kit.ids import new_id
from postroom.models import EmailActivity
from tests.conftest import Tenant, create_tenant
from tests.databases import database_of_its_own
from tests.helpers import add_sending_account, create_email, create_lead, field_errors, ok

FUTURE = "2031-01-01T09:00:00+00:00"
TO_SEND: dict[str, dict[str, Any]] = {
    "outbox": {"status": "outbox", "sender": "me@example.com", "send_in": 30},
    "scheduled": {"status": "scheduled", "sender": "me@example.com", "date_scheduled": FUTURE},
}
LOGGED: dict[str, dict[str, Any]] = {
    "draft": {"status": "draft"},
    "sent": {"status": "sent", "sender": "me@example.com"},
    "inbox": {"status": "inbox", "sender": "jane@acme.example.com"},
    "error": {"status": "error", "sender": "me@example.com"},
}
QUEUEING_PUTS = [("draft", "outbox"), ("draft", "scheduled"), ("error", "outbox")]


async def post_email(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    lead = await create_lead(tenant.client)
    return await create_email(tenant.client, lead["id"], **fields)


async def put(tenant: Tenant, email: dict[str, Any], **fields: Any) -> httpx.Response:
    return await tenant.client.put(f"/activity/email/{email['id']}/", json=fields)


async def shown(tenant: Tenant, email: dict[str, Any]) -> Any:
    return await shown_by(tenant.client, email)


async def email_event(tenant: Tenant, email: dict[str, Any], action: str) -> dict[str, Any]:
    params = {"object_type": "activity.email", "object_id": email["id"], "action": action}
    [event] = ok(await tenant.client.get("/event/", params=params))["data"]
    found: dict[str, Any] = event
    return found


@pytest.mark.parametrize("status", sorted(TO_SEND))
async def test_a_queued_email_without_an_account_names_its_users_default_account(
    tenant: Tenant, database: Database, status: str
) -> None:
    await add_sending_account(database, tenant.user_email)
    default = await add_sending_account(database, tenant.user_email)
    email = await post_email(tenant, **TO_SEND[status])
    assert email["email_account_id"] == default
    assert await shown(tenant, email) == default
    created = await email_event(tenant, email, "created")
    assert created["data"]["email_account_id"] == default


async def test_a_queued_email_keeps_the_account_it_names(
    tenant: Tenant, database: Database
) -> None:
    named = await add_sending_account(database, tenant.user_email)
    await add_sending_account(database, tenant.user_email)  # now the default
    email = await post_email(tenant, **TO_SEND["outbox"], email_account_id=named)
    assert email["email_account_id"] == named
    assert await shown(tenant, email) == named


@pytest.mark.parametrize("order", ["email_account_id first", "account_id first"])
@pytest.mark.parametrize("other", [None, ""])
async def test_an_account_posted_under_either_name_wins_over_an_empty_other(
    tenant: Tenant, database: Database, order: str, other: str | None
) -> None:
    """Both names posted, one of them empty: the account named is stored, whatever the order
    the fields arrive in (it is the one the ownership check read)."""
    named = await add_sending_account(database, tenant.user_email)
    await add_sending_account(database, tenant.user_email)  # now the default
    names = {"email_account_id": named, "account_id": other}
    if order == "account_id first":
        names = {"account_id": named, "email_account_id": other}
    email = await post_email(tenant, **TO_SEND["outbox"], **names)
    assert email["email_account_id"] == named
    assert await shown(tenant, email) == named


async def test_an_empty_account_id_names_no_account(tenant: Tenant) -> None:
    email = await post_email(tenant, status="draft", email_account_id="")
    assert email["email_account_id"] is None


async def test_a_queued_email_of_a_user_without_an_account_names_none(tenant: Tenant) -> None:
    email = await post_email(tenant, **TO_SEND["outbox"])
    assert email["email_account_id"] is None
    assert await shown(tenant, email) is None


async def test_a_queued_email_of_a_colleague_names_the_colleagues_account(
    tenant: Tenant, colleague: Tenant, database: Database
) -> None:
    """The default is that of the email's user, not of the API key's."""
    await add_sending_account(database, tenant.user_email)
    theirs = await add_sending_account(database, colleague.user_email)
    email = await post_email(tenant, **TO_SEND["outbox"], user_id=colleague.user_id)
    assert email["email_account_id"] == theirs


@pytest.mark.parametrize("status", sorted(LOGGED))
async def test_a_logged_email_names_no_account(
    tenant: Tenant, database: Database, status: str
) -> None:
    """Drafts and emails logged as they are (inbox, sent, error) are not sent by Postroom."""
    await add_sending_account(database, tenant.user_email)
    email = await post_email(tenant, **LOGGED[status])
    assert email["email_account_id"] is None
    assert await shown(tenant, email) is None


@pytest.mark.parametrize(("start", "target"), QUEUEING_PUTS)
async def test_an_email_queued_by_a_put_names_its_users_default_account(
    tenant: Tenant, database: Database, start: str, target: str
) -> None:
    default = await add_sending_account(database, tenant.user_email)
    email = await post_email(tenant, **LOGGED[start])
    queued = {**TO_SEND[target], "sender": "me@example.com"}
    response = ok(await put(tenant, email, **queued))
    assert response["email_account_id"] == default
    assert await shown(tenant, email) == default
    updated = await email_event(tenant, email, "updated")
    assert updated["data"]["email_account_id"] == default
    assert "email_account_id" in updated["changed_fields"]


async def test_a_draft_queued_for_a_colleague_names_the_colleagues_account(
    tenant: Tenant, colleague: Tenant, database: Database
) -> None:
    await add_sending_account(database, tenant.user_email)
    theirs = await add_sending_account(database, colleague.user_email)
    draft = await post_email(tenant, **LOGGED["draft"])
    body = {**TO_SEND["outbox"], "user_id": colleague.user_id}
    queued = ok(await put(tenant, draft, **body))
    assert queued["email_account_id"] == theirs


async def test_a_draft_queued_by_a_put_keeps_the_account_it_names(
    tenant: Tenant, database: Database
) -> None:
    named = await add_sending_account(database, tenant.user_email)
    await add_sending_account(database, tenant.user_email)  # now the default
    draft = await post_email(tenant, **LOGGED["draft"], email_account_id=named)
    queued = ok(await put(tenant, draft, **TO_SEND["outbox"]))
    assert queued["email_account_id"] == named


async def test_a_draft_keeps_no_account_until_it_is_queued(
    tenant: Tenant, database: Database
) -> None:
    await add_sending_account(database, tenant.user_email)
    draft = await post_email(tenant, **LOGGED["draft"])
    edited = ok(await put(tenant, draft, subject="Yo"))
    assert edited["email_account_id"] is None


async def test_a_draft_handed_to_a_colleague_may_drop_the_account_it_was_given(
    tenant: Tenant, colleague: Tenant, database: Database
) -> None:
    """A cancelled email keeps the account it was queued with; handed to a colleague, it may
    drop it (an explicit null) and, queued again, gets the colleague's default account."""
    await add_sending_account(database, tenant.user_email)
    email = await post_email(tenant, **TO_SEND["outbox"])
    handed = {"status": "draft", "user_id": colleague.user_id, "email_account_id": None}
    draft = ok(await put(tenant, email, **handed))
    assert (draft["user_id"], draft["email_account_id"]) == (colleague.user_id, None)
    assert ok(await put(tenant, email, status="outbox"))["email_account_id"] is None
    theirs = await add_sending_account(database, colleague.user_email)
    ok(await put(tenant, email, status="draft"))
    assert ok(await put(tenant, email, status="outbox"))["email_account_id"] == theirs


async def test_a_draft_handed_to_a_colleague_cannot_keep_the_account_it_was_given(
    tenant: Tenant, colleague: Tenant, database: Database
) -> None:
    await add_sending_account(database, tenant.user_email)
    email = await post_email(tenant, **TO_SEND["outbox"])
    ok(await put(tenant, email, status="draft"))
    response = await put(tenant, email, user_id=colleague.user_id)
    assert "email_account_id" in field_errors(response)


async def test_the_upgrade_names_the_account_of_emails_queued_by_an_older_postroom(
    database_url: str, tmp_path: Path
) -> None:
    """Migration ``44096776410e``: an email queued before this rule, with no account, was sent
    through its user's default account by the dispatcher; the upgrade writes that account down,
    since the dispatcher no longer looks for it. Other emails keep what they had."""
    with database_of_its_own(database_url, tmp_path) as url:
        async with running_app(url, tmp_path) as app:
            emails, account, api_key = await queue_as_an_older_postroom(app)
        await asyncio.to_thread(downgrade_and_upgrade, url)
        async with running_app(url, tmp_path) as app, client_of(app, api_key) as client:
            named = {name: await shown_by(client, email) for name, email in emails.items()}
    assert named == {"outbox": account, "scheduled": account, "draft": None, "lone": None}


async def queue_as_an_older_postroom(app: FastAPI) -> tuple[dict[str, Any], str, str]:
    """Emails of a user with an account (queued, and a draft) and of a colleague without one
    (queued), stored with no account as an older Postroom stored them; with the account and
    the first user's API key."""
    database: Database = app.state.database
    organization = new_id("org")
    tenant = await create_tenant(app, database, organization=organization)
    lone = await create_tenant(app, database, "Lone Colleague", organization)
    account = await add_sending_account(database, tenant.user_email)
    emails = {status: await post_email(tenant, **TO_SEND[status]) for status in TO_SEND}
    emails["draft"] = await post_email(tenant, **LOGGED["draft"])
    emails["lone"] = await post_email(lone, **TO_SEND["outbox"])
    await tenant.client.aclose()
    await lone.client.aclose()
    async with database.transaction() as session:
        await session.execute(update(EmailActivity).values(email_account_id=None))
    return emails, account, tenant.api_key


@asynccontextmanager
async def running_app(database_url: str, folder: Path) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=database_url,
        data_dir=folder / "data",
        public_url="http://testserver",
        run_dispatcher=False,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def client_of(app: FastAPI, api_key: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(
        transport=transport, base_url="http://testserver/api/v1", auth=(api_key, "")
    )


async def shown_by(client: httpx.AsyncClient, email: dict[str, Any]) -> Any:
    return ok(await client.get(f"/activity/email/{email['id']}/"))["email_account_id"]


def downgrade_and_upgrade(database_url: str) -> None:
    """Back to the revision before the backfill (its downgrade changes nothing), and up again."""
    command.downgrade(migrate.alembic_config(database_url), "3a9e5d7c1b42")
    migrate.upgrade(database_url)
