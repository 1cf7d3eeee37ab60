"""A contact email's ``is_unsubscribed`` follows the organization's unsubscribe list, on every
read of contacts and leads; a contact posted unsubscribed puts its address on the list."""

from __future__ import annotations

from typing import Any

import httpx

from postroom.db import Database
from tests.conftest import Tenant
from tests.helpers import create_lead, ok
from tests.query_plans import statements_sent

ADDRESS = "jane@acme.example.com"


async def lead_with(client: httpx.AsyncClient, *addresses: str) -> dict[str, Any]:
    contacts = [{"name": f"Contact {n}", "emails": [{"email": a}]} for n, a in enumerate(addresses)]
    return await create_lead(client, contacts=contacts)


async def flags_everywhere(
    client: httpx.AsyncClient, lead: dict[str, Any]
) -> set[tuple[str, bool]]:
    """(address, is_unsubscribed) of the lead's contact emails, as every read shows them; every
    read must agree."""
    contact_id = lead["contacts"][0]["id"]
    reads = [
        ok(await client.get(f"/lead/{lead['id']}/"))["contacts"],
        next(item for item in ok(await client.get("/lead/"))["data"] if item["id"] == lead["id"])[
            "contacts"
        ],
        ok(await client.get("/contact/", params={"lead_id": lead["id"]}))["data"],
    ]
    seen = [
        {(email["email"], email["is_unsubscribed"]) for c in contacts for email in c["emails"]}
        for contacts in reads
    ]
    one = ok(await client.get(f"/contact/{contact_id}/"))
    assert {(e["email"], e["is_unsubscribed"]) for e in one["emails"]} <= seen[0]
    assert seen[0] == seen[1] == seen[2]
    return seen[0]


async def test_a_contact_email_is_not_unsubscribed_by_default(tenant: Tenant) -> None:
    lead = await lead_with(tenant.client, ADDRESS)
    assert lead["contacts"][0]["emails"][0]["is_unsubscribed"] is False
    assert await flags_everywhere(tenant.client, lead) == {(ADDRESS, False)}


async def test_unsubscribing_shows_on_every_contact_with_the_address(tenant: Tenant) -> None:
    first = await lead_with(tenant.client, ADDRESS, "bob@acme.example.com")
    second = await lead_with(tenant.client, "Jane@Acme.Example.com")
    ok_created = await tenant.client.post("/unsubscribe/email/", json={"email": ADDRESS})
    assert ok_created.status_code == 201
    assert await flags_everywhere(tenant.client, first) == {
        (ADDRESS, True),
        ("bob@acme.example.com", False),
    }
    assert await flags_everywhere(tenant.client, second) == {("Jane@acme.example.com", True)}
    lead = ok(await tenant.client.get(f"/lead/{first['id']}/"))
    assert lead["primary_email"]["is_unsubscribed"] is True


async def test_resubscribing_shows_on_every_contact_with_the_address(tenant: Tenant) -> None:
    lead = await lead_with(tenant.client, ADDRESS)
    await tenant.client.post("/unsubscribe/email/", json={"email": ADDRESS})
    ok(await tenant.client.delete(f"/unsubscribe/email/{ADDRESS}/"))
    assert await flags_everywhere(tenant.client, lead) == {(ADDRESS, False)}


async def test_a_contact_posted_unsubscribed_puts_its_address_on_the_list(tenant: Tenant) -> None:
    lead = await lead_with(tenant.client, "JANE@acme.example.com")
    emails = [{"email": ADDRESS, "is_unsubscribed": True}]
    contact = ok(
        await tenant.client.post("/contact/", json={"lead_id": lead["id"], "emails": emails})
    )
    assert contact["emails"][0]["is_unsubscribed"] is True
    listed = ok(await tenant.client.get("/unsubscribe/email/"))["data"]
    assert [item["email"] for item in listed] == [ADDRESS]
    assert ("JANE@acme.example.com", True) in await flags_everywhere(tenant.client, lead)


async def test_a_lead_posted_with_an_unsubscribed_contact_puts_its_address_on_the_list(
    tenant: Tenant,
) -> None:
    contacts = [{"name": "Jane", "emails": [{"email": ADDRESS, "is_unsubscribed": True}]}]
    lead = await create_lead(tenant.client, contacts=contacts)
    assert lead["contacts"][0]["emails"][0]["is_unsubscribed"] is True
    listed = ok(await tenant.client.get("/unsubscribe/email/"))["data"]
    assert [item["email"] for item in listed] == [ADDRESS]


async def test_a_contact_updated_with_an_unsubscribed_email_puts_it_on_the_list(
    tenant: Tenant,
) -> None:
    lead = await lead_with(tenant.client, ADDRESS)
    contact_id = lead["contacts"][0]["id"]
    emails = [{"email": ADDRESS, "is_unsubscribed": True}]
    updated = ok(await tenant.client.put(f"/contact/{contact_id}/", json={"emails": emails}))
    assert updated["emails"][0]["is_unsubscribed"] is True
    assert await flags_everywhere(tenant.client, lead) == {(ADDRESS, True)}


async def test_posting_is_unsubscribed_false_does_not_resubscribe(tenant: Tenant) -> None:
    """Clients post back whole contacts they read earlier: a stale ``false`` must not undo an
    unsubscribe made meanwhile."""
    lead = await lead_with(tenant.client, ADDRESS)
    contact = lead["contacts"][0]
    await tenant.client.post("/unsubscribe/email/", json={"email": ADDRESS})
    updated = ok(await tenant.client.put(f"/contact/{contact['id']}/", json=contact))
    assert updated["emails"][0]["is_unsubscribed"] is True
    listed = ok(await tenant.client.get("/unsubscribe/email/"))["data"]
    assert [item["email"] for item in listed] == [ADDRESS]


async def test_another_organizations_list_does_not_unsubscribe_contacts(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    lead = await lead_with(tenant.client, ADDRESS)
    await other_tenant.client.post("/unsubscribe/email/", json={"email": ADDRESS})
    assert await flags_everywhere(tenant.client, lead) == {(ADDRESS, False)}


async def test_a_page_of_leads_or_contacts_reads_the_list_once(
    tenant: Tenant, database: Database
) -> None:
    for number in range(5):
        await lead_with(tenant.client, f"c{number}@acme.example.com", f"d{number}@acme.example.com")
    await tenant.client.post("/unsubscribe/email/", json={"email": "c1@acme.example.com"})
    for path in ("/lead/", "/contact/"):

        async def read_page(path: str = path) -> httpx.Response:
            return await tenant.client.get(path)

        sent = await statements_sent(database, read_page)
        lookups = [sql for sql, _ in sent if "unsubscribed_emails" in sql]
        assert len(lookups) == 1, (path, lookups)
