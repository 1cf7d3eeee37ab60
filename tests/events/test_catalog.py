"""The table of events Postroom emits (``events.catalog``) is what the services record."""

from __future__ import annotations

from sqlalchemy import select

from postroom.db import Database
from postroom.events.catalog import EMITTED
from postroom.models import Event
from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, ok


async def change_everything_through_the_api(tenant: Tenant) -> None:
    client = tenant.client
    lead = await create_lead(client)
    ok(await client.put(f"/lead/{lead['id']}/", json={"name": "Renamed"}))
    contact = ok(await client.post("/contact/", json={"lead_id": lead["id"], "name": "Bo"}))
    ok(await client.put(f"/contact/{contact['id']}/", json={"title": "CEO"}))
    ok(await client.delete(f"/contact/{contact['id']}/"))
    template = {"name": "T", "subject": "S", "body": "B"}
    template_id = ok(await client.post("/email_template/", json=template))["id"]
    ok(await client.put(f"/email_template/{template_id}/", json={"name": "T2"}))
    ok(await client.delete(f"/email_template/{template_id}/"))
    email = await create_email(client, lead["id"])
    ok(await client.put(f"/activity/email/{email['id']}/", json={"subject": "Changed"}))
    ok(await client.delete(f"/activity/email/{email['id']}/"))
    task = ok(await client.post("/task/", json={"lead_id": lead["id"], "text": "Call"}))
    ok(await client.put(f"/task/{task['id']}/", json={"text": "Call back"}))
    ok(await client.put(f"/task/{task['id']}/", json={"is_complete": True}))
    ok(await client.delete(f"/task/{task['id']}/"))
    ok(await client.delete(f"/lead/{lead['id']}/"))
    unsubscribed = await client.post("/unsubscribe/email/", json={"email": "jo@example.com"})
    assert unsubscribed.status_code == 201
    ok(await client.delete("/unsubscribe/email/jo@example.com/"))


async def test_every_event_the_api_records_is_in_the_catalog(
    tenant: Tenant, database: Database
) -> None:
    await change_everything_through_the_api(tenant)
    statement = select(Event.object_type, Event.action).where(
        Event.organization_id == tenant.organization_id
    )
    async with database.sessions() as session:
        recorded = {(row[0], row[1]) for row in await session.execute(statement)}
    assert len(recorded) >= 20
    assert {pair for pair in recorded if pair[1] not in EMITTED.get(pair[0], ())} == set()
