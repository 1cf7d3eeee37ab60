"""Follow-up task rows as the scheduler makes them: one ``email_followup`` task per email."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from postroom.db import Database
from postroom.kit.datetimes import utcnow
from postroom.models import EmailActivity, Task
from postroom.tasks.service import add_followup_task, new_followup_task
from tests.conftest import Tenant
from tests.helpers import create_email, create_lead

FOLLOWUP_AT = (utcnow() - timedelta(hours=1)).replace(microsecond=0)


async def sent_email(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    lead = await create_lead(tenant.client)
    return await create_email(
        tenant.client,
        lead["id"],
        status="sent",
        sender="me@sender.example.com",
        subject="Pricing",
        body_text="Here are our prices.",
        contact_id=lead["contacts"][0]["id"],
        followup_date=FOLLOWUP_AT.isoformat(),
        **fields,
    )


async def email_row(database: Database, email_id: str) -> EmailActivity:
    async with database.transaction() as session:
        email = await session.get(EmailActivity, email_id)
    assert email is not None
    return email


async def add_for(database: Database, email: EmailActivity) -> tuple[Task, bool]:
    task = new_followup_task(email, email.thread_id or "", utcnow())
    async with database.transaction() as session:
        added = await add_followup_task(session, task)
    return task, added


async def tasks_of(database: Database, email_id: str) -> list[Task]:
    async with database.transaction() as session:
        rows = await session.execute(select(Task).where(Task.email_id == email_id))
        return list(rows.scalars().all())


async def test_followup_row_carries_the_emails_lead_user_date_and_thread(
    tenant: Tenant, database: Database
) -> None:
    email = await email_row(database, (await sent_email(tenant))["id"])
    task, added = await add_for(database, email)
    assert added
    [row] = await tasks_of(database, email.id)
    assert row.id == task.id
    assert row.id.startswith("noti_")
    assert row.task_type == "email_followup"
    assert row.organization_id == tenant.organization_id
    assert (row.lead_id, row.contact_id) == (email.lead_id, email.contact_id)
    assert row.assigned_to == email.user_id == tenant.user_id
    assert row.due_at == FOLLOWUP_AT
    assert (row.object_type, row.object_id) == ("emailthread", email.thread_id)
    assert (row.subject, row.body_preview) == ("Pricing", "Here are our prices.")
    assert (row.is_complete, row.view, row.text) == (False, "inbox", "")


async def test_new_followup_task_only_builds_the_row(tenant: Tenant, database: Database) -> None:
    email = await email_row(database, (await sent_email(tenant))["id"])
    new_followup_task(email, email.thread_id or "", utcnow())
    assert await tasks_of(database, email.id) == []


async def test_adding_a_second_followup_for_one_email_returns_false_and_keeps_one_row(
    tenant: Tenant, database: Database
) -> None:
    email = await email_row(database, (await sent_email(tenant))["id"])
    first, first_added = await add_for(database, email)
    _second, second_added = await add_for(database, email)
    assert (first_added, second_added) == (True, False)
    assert [row.id for row in await tasks_of(database, email.id)] == [first.id]


async def test_a_refused_followup_leaves_the_transaction_usable(
    tenant: Tenant, database: Database
) -> None:
    one = await email_row(database, (await sent_email(tenant))["id"])
    two = await email_row(database, (await sent_email(tenant))["id"])
    await add_for(database, one)
    async with database.transaction() as session:
        duplicate = new_followup_task(one, one.thread_id or "", utcnow())
        assert not await add_followup_task(session, duplicate)
        assert await add_followup_task(session, new_followup_task(two, "acti_x", utcnow()))
    async with database.transaction() as session:
        count = select(func.count()).where(Task.email_id.in_([one.id, two.id]))
        assert (await session.execute(count)).scalar_one() == 2
