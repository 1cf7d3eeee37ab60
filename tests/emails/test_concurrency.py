"""Two changes of one email at once: the second waits for the first and then sees its result.

Each test holds a change of the email in an open transaction (as a concurrent request would),
sends its own request meanwhile, and only then commits. On PostgreSQL the request reads the
email with a row lock and so waits; on SQLite the one writer connection serializes them anyway.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.sql.dml import UpdateBase

from postroom.db import Database
from postroom.models import EmailActivity
from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, during, field_errors, ok


async def draft_of(tenant: Tenant) -> dict[str, Any]:
    lead = await create_lead(tenant.client)
    return await create_email(tenant.client, lead["id"], sender="me@example.com")


def queue(email_id: str) -> UpdateBase:
    return (
        update(EmailActivity)
        .where(EmailActivity.id == email_id)
        .values(status="outbox", send_in=30)
    )


def remove(email_id: str) -> UpdateBase:
    return delete(EmailActivity).where(EmailActivity.id == email_id)


async def test_an_edit_racing_the_queueing_of_a_draft_is_refused_once_it_is_queued(
    tenant: Tenant, database: Database
) -> None:
    draft = await draft_of(tenant)
    edit = tenant.client.put(f"/activity/email/{draft['id']}/", json={"subject": "Changed"})
    response = await during(database, queue(draft["id"]), edit)
    assert "status" in field_errors(response)
    shown = ok(await tenant.client.get(f"/activity/email/{draft['id']}/"))
    assert (shown["status"], shown["subject"]) == ("outbox", draft["subject"])


async def test_a_status_change_racing_another_is_judged_against_the_winner(
    tenant: Tenant, database: Database
) -> None:
    draft = await draft_of(tenant)
    scheduling = {"status": "scheduled", "date_scheduled": "2031-01-01T09:00:00+00:00"}
    schedule = tenant.client.put(f"/activity/email/{draft['id']}/", json=scheduling)
    response = await during(database, queue(draft["id"]), schedule)
    assert "status" in field_errors(response)
    assert ok(await tenant.client.get(f"/activity/email/{draft['id']}/"))["status"] == "outbox"


async def test_an_edit_racing_the_deletion_of_the_email_is_a_404(
    tenant: Tenant, database: Database
) -> None:
    draft = await draft_of(tenant)
    edit = tenant.client.put(f"/activity/email/{draft['id']}/", json={"subject": "Changed"})
    response = await during(database, remove(draft["id"]), edit)
    assert response.status_code == 404, response.text


async def test_a_deletion_racing_another_deletion_of_the_email_is_a_404(
    tenant: Tenant, database: Database
) -> None:
    draft = await draft_of(tenant)
    deletion = tenant.client.delete(f"/activity/email/{draft['id']}/")
    response = await during(database, remove(draft["id"]), deletion)
    assert response.status_code == 404, response.text
