"""Small builders used across tests: leads, contacts and emails through the public API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import Executable, Table, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import UpdateBase

from postroom.accounts import service as account_service
from postroom.db import Database
from postroom.kit.datetimes import utcnow
from postroom.kit.secrets import SecretBox
from postroom.models import EmailActivity
from postroom.tasks.service import add_followup_task, new_followup_task


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def field_errors(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert isinstance(body["errors"], list)
    errors: dict[str, str] = body["field-errors"]
    return errors


async def create_lead(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Acme Corp",
        "contacts": [{"name": "Jane Doe", "emails": [{"email": "jane@acme.example.com"}]}],
        **fields,
    }
    return ok(await client.post("/lead/", json=body))


async def create_email(client: httpx.AsyncClient, lead_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "lead_id": lead_id,
        "status": "draft",
        "subject": "Hello",
        "body_text": "Hi there",
        "to": ["jane@acme.example.com"],
        **fields,
    }
    return ok(await client.post("/activity/email/", json=body))


async def add_followup(
    client: httpx.AsyncClient, database: Database, email: dict[str, Any]
) -> dict[str, Any]:
    """Give ``email`` its follow-up task as the scheduler makes it; the task as the API shows it."""
    async with database.transaction() as session:
        row = await session.get(EmailActivity, email["id"])
        assert row is not None
        task = new_followup_task(row, email["thread_id"], utcnow())
        assert await add_followup_task(session, task)
    return ok(await client.get(f"/task/{task.id}/"))


async def add_sending_account(
    database: Database, user_email: str, smtp_url: str = "smtp://u:p@127.0.0.1:2525"
) -> str:
    """Add an SMTP account for the user through the service, as ``postroom accounts add``."""
    async with database.transaction() as session:
        account = await account_service.add_account(
            session, SecretBox("test-secret"), user_email, smtp_url, make_default=True
        )
    return account.id


async def upload_file(
    client: httpx.AsyncClient, filename: str, content_type: str, data: bytes
) -> dict[str, Any]:
    """Upload through the Files API as Close's docs describe; return the attachment item."""
    grant = ok(
        await client.post(
            "/files/upload/", json={"filename": filename, "content_type": content_type}
        )
    )
    upload = grant["upload"]
    response = await client.post(
        upload["url"], data=upload["fields"], files={"file": (filename, data, content_type)}
    )
    assert response.status_code == 201, response.text
    return {
        "url": grant["download"]["url"],
        "filename": filename,
        "content_type": content_type,
        "size": len(data),
    }


@asynccontextmanager
async def temporary_table(database: Database, table: Table) -> AsyncIterator[AsyncConnection]:
    """A connection, in one transaction, on which ``table`` exists until the block ends."""
    async with database.transaction() as session:
        connection = await session.connection()
        await connection.run_sync(table.create)
        yield connection
        await connection.run_sync(table.drop)


async def claim_as_a_worker(database: Database, email_id: str) -> None:
    """Do to the email's row what the dispatcher's claim does: a worker now holds it."""
    async with database.transaction() as session:
        await session.execute(
            update(EmailActivity)
            .where(EmailActivity.id == email_id)
            .values(claimed_by="worker-test", claimed_at=utcnow())
        )


IN_FLIGHT = 0.3
"""Seconds the request gets to reach the email while the other change is uncommitted."""


async def during(
    database: Database, change: UpdateBase, request: Awaitable[httpx.Response]
) -> httpx.Response:
    """Send ``request`` while ``change`` is made but not yet committed; its response."""
    return await during_all(database, [change], request)


async def during_all(
    database: Database, changes: Sequence[Executable], request: Awaitable[httpx.Response]
) -> httpx.Response:
    """Send ``request`` while ``changes`` are made but not yet committed; its response."""
    async with database.transaction() as session:
        for change in changes:
            await session.execute(change)
        answer = asyncio.ensure_future(request)
        await asyncio.sleep(IN_FLIGHT)
        assert not answer.done()
    return await answer
