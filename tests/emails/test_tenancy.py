"""One organization never sees or touches another's emails (§ every query is scoped)."""

from __future__ import annotations

from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, ok

NOT_FOUND = {"error": "Empty query: EmailActivity matching query does not exist."}


async def test_other_organizations_email_is_404_on_get_put_delete(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"])
    path = f"/activity/email/{email['id']}/"
    for response in (
        await other_tenant.client.get(path),
        await other_tenant.client.put(path, json={"subject": "Stolen"}),
        await other_tenant.client.delete(path),
    ):
        assert response.status_code == 404
        assert response.json() == NOT_FOUND
    assert ok(await tenant.client.get(path))["subject"] == "Hello"


async def test_lists_never_show_another_organizations_emails(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"])
    for path in ("/activity/email/", "/activity/"):
        for params in ({}, {"id__in": email["id"]}, {"lead_id": lead["id"]}):
            assert ok(await other_tenant.client.get(path, params=params))["data"] == []
