"""A lead's or a contact's deletion racing the deletion of one of its emails, threads or tasks,
and an email's or a thread's deletion racing the deletion of its follow-up task: the cascade
waits for the other deletion and then leaves out what it removed. No 500 (the contact's
deletion met a row gone under it: ``StaleDataError``), and no second ``deleted`` event (and
webhook) for what the other deletion removed and recorded already.

The racing deletion is held in an open transaction while the request is sent; it removes the
rows without recording events, so any ``deleted`` event found is the cascade's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.sql import Executable

from postroom.db import Database
from postroom.kit.datetimes import utcnow
from postroom.models import EmailActivity, EmailThread, Task
from postroom.tasks.service import add_followup_task, new_followup_task
from tests.conftest import Tenant
from tests.helpers import IN_FLIGHT, add_followup, create_email, create_lead, during_all, ok


async def deleted_events(tenant: Tenant, object_id: str) -> int:
    events = ok(await tenant.client.get("/event/", params={"object_id": object_id}))["data"]
    return sum(event["action"] == "deleted" for event in events)


async def a_contact_with_an_email(tenant: Tenant) -> tuple[str, dict[str, Any]]:
    lead = await create_lead(tenant.client)
    contact_id = lead["contacts"][0]["id"]
    email = await create_email(
        tenant.client, lead["id"], contact_id=contact_id, status="sent", sender="me@example.com"
    )
    return contact_id, email


def email_deletion(email_id: str) -> Executable:
    return delete(EmailActivity).where(EmailActivity.id == email_id)


async def test_a_contact_deleted_while_one_of_its_emails_is_deleted_is_deleted(
    tenant: Tenant, database: Database
) -> None:
    contact_id, email = await a_contact_with_an_email(tenant)
    removal = tenant.client.delete(f"/contact/{contact_id}/")
    ok(await during_all(database, [email_deletion(email["id"])], removal))
    assert (await tenant.client.get(f"/contact/{contact_id}/")).status_code == 404
    assert await deleted_events(tenant, email["id"]) == 0


async def test_a_contact_deleted_while_its_thread_is_deleted_is_deleted(
    tenant: Tenant, database: Database
) -> None:
    contact_id, email = await a_contact_with_an_email(tenant)
    thread_gone = delete(EmailThread).where(EmailThread.id == email["thread_id"])
    removal = tenant.client.delete(f"/contact/{contact_id}/")
    ok(await during_all(database, [email_deletion(email["id"]), thread_gone], removal))
    assert (await tenant.client.get(f"/contact/{contact_id}/")).status_code == 404


async def test_a_contact_deleted_while_one_of_its_tasks_is_deleted_is_deleted(
    tenant: Tenant, database: Database
) -> None:
    contact_id, email = await a_contact_with_an_email(tenant)
    task = await add_followup(tenant.client, database, email)
    assert task["contact_id"] == contact_id
    removal = tenant.client.delete(f"/contact/{contact_id}/")
    ok(await during_all(database, [delete(Task).where(Task.id == task["id"])], removal))
    assert (await tenant.client.get(f"/contact/{contact_id}/")).status_code == 404


async def test_a_lead_deleted_while_one_of_its_emails_is_deleted_records_it_once(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"])
    removal = tenant.client.delete(f"/lead/{lead['id']}/")
    ok(await during_all(database, [email_deletion(email["id"])], removal))
    assert await deleted_events(tenant, email["id"]) == 0
    assert await deleted_events(tenant, lead["id"]) == 1


async def test_a_lead_deleted_while_one_of_its_tasks_is_deleted_records_it_once(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client)
    task = ok(await tenant.client.post("/task/", json={"lead_id": lead["id"], "text": "Call"}))
    removal = tenant.client.delete(f"/lead/{lead['id']}/")
    ok(await during_all(database, [delete(Task).where(Task.id == task["id"])], removal))
    assert await deleted_events(tenant, task["id"]) == 0
    assert await deleted_events(tenant, lead["id"]) == 1


@pytest.mark.parametrize(
    ("path", "key"),
    [("/activity/email/{id}/", "id"), ("/activity/emailthread/{thread_id}/", "thread_id")],
    ids=["email", "thread"],
)
async def test_an_email_or_thread_deleted_while_its_followup_task_is_deleted_records_it_once(
    tenant: Tenant, database: Database, path: str, key: str
) -> None:
    _contact_id, email = await a_contact_with_an_email(tenant)
    task = await add_followup(tenant.client, database, email)
    removal = tenant.client.delete(path.format(**email))
    ok(await during_all(database, [delete(Task).where(Task.id == task["id"])], removal))
    assert await deleted_events(tenant, task["id"]) == 0
    assert await deleted_events(tenant, email[key]) == 1


async def test_a_thread_deleted_while_its_followup_task_is_made_records_the_task_deleted(
    tenant: Tenant, database: Database
) -> None:
    """The follow-up scheduler holds the email (it marks it handled) while it adds the task;
    the thread's deletion waits for it, then deletes the task with its ``deleted`` event."""
    _contact_id, email = await a_contact_with_an_email(tenant)
    async with database.transaction() as session:
        row = await session.get(EmailActivity, email["id"], with_for_update=True)
        assert row is not None
        task = new_followup_task(row, email["thread_id"], utcnow())
        assert await add_followup_task(session, task)
        removal = tenant.client.delete(f"/activity/emailthread/{email['thread_id']}/")
        answer = asyncio.ensure_future(removal)
        await asyncio.sleep(IN_FLIGHT)
    ok(await answer)
    assert await deleted_events(tenant, task.id) == 1
