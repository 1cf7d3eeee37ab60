"""A new object's ``date_updated`` is its ``date_created``: one moment, not two readings of the
clock a few microseconds apart (a client comparing them sees a never-edited object)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant
from tests.helpers import create_lead, ok


def same_moment(created: dict[str, Any]) -> bool:
    return bool(created["date_created"]) and created["date_created"] == created["date_updated"]


async def test_new_leads_contacts_templates_tasks_and_webhooks_were_updated_when_created(
    tenant: Tenant,
) -> None:
    lead = await create_lead(tenant.client)
    contact = ok(await tenant.client.post("/contact/", json={"lead_id": lead["id"], "name": "Al"}))
    template = {"name": "Intro", "subject": "Hello", "body": "<p>Hi</p>"}
    task = {"lead_id": lead["id"], "text": "Call"}
    webhook = {
        "url": "https://93.184.216.34/hooks/close",
        "events": [{"object_type": "lead", "action": "created"}],
    }
    created = [
        lead,
        lead["contacts"][0],
        contact,
        ok(await tenant.client.post("/email_template/", json=template)),
        ok(await tenant.client.post("/task/", json=task)),
        (await tenant.client.post("/webhook/", json=webhook)).json(),
    ]
    assert [same_moment(item) for item in created] == [True] * len(created)
