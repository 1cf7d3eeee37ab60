"""Contacts over HTTP: creation on a lead or a new lead, PUT as PATCH, DELETE, lists (spec §3)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, field_errors, ok

CONTACT_REQUIRED = [
    "created_by",
    "date_created",
    "date_updated",
    "display_name",
    "id",
    "name",
    "organization_id",
    "title",
    "updated_by",
]
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
CONTACT_NOT_FOUND = {"error": "Empty query: Contact matching query does not exist."}


async def create_contact(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"name": "Bob Smith", "emails": [{"email": "bob@acme.example.com", "type": "office"}]}
    return ok(await client.post("/contact/", json={**body, **fields}))


async def test_contact_created_on_a_lead_has_every_required_field(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    contact = await create_contact(tenant.client, lead_id=lead["id"], title="CTO")
    for name in CONTACT_REQUIRED:
        assert name in contact, name
    assert contact["id"].startswith("cont_")
    assert contact["lead_id"] == lead["id"]
    assert contact["organization_id"] == tenant.organization_id
    assert contact["created_by"] == tenant.user_id
    assert contact["updated_by"] == tenant.user_id
    assert contact["display_name"] == "Bob Smith"
    assert contact["title"] == "CTO"
    assert contact["emails"] == [
        {"email": "bob@acme.example.com", "type": "office", "is_unsubscribed": False}
    ]
    for name in ("date_created", "date_updated"):
        assert DATETIME.match(contact[name]), (name, contact[name])


async def test_contact_created_on_a_lead_joins_its_contacts(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    contact = await create_contact(tenant.client, lead_id=lead["id"])
    fetched = ok(await tenant.client.get(f"/lead/{lead['id']}/"))
    assert fetched["contact_ids"] == [*lead["contact_ids"], contact["id"]]
    assert fetched["contacts"][-1] == contact


async def test_contact_without_lead_id_gets_a_new_lead_named_after_it(tenant: Tenant) -> None:
    contact = await create_contact(tenant.client, name="Solo Person")
    assert contact["lead_id"].startswith("lead_")
    lead = ok(await tenant.client.get(f"/lead/{contact['lead_id']}/"))
    assert lead["name"] == "Solo Person"
    assert lead["display_name"] == "Solo Person"
    assert lead["contact_ids"] == [contact["id"]]
    assert lead["organization_id"] == tenant.organization_id


async def test_contact_without_name_or_lead_is_displayed_by_its_email(tenant: Tenant) -> None:
    contact = await create_contact(tenant.client, name=None)
    assert contact["display_name"] == "bob@acme.example.com"
    lead = ok(await tenant.client.get(f"/lead/{contact['lead_id']}/"))
    assert lead["display_name"] == "bob@acme.example.com"


async def test_unknown_lead_id_is_a_field_error(tenant: Tenant) -> None:
    response = await tenant.client.post(
        "/contact/", json={"name": "Bob", "lead_id": "lead_doesnotexist"}
    )
    errors = field_errors(response)
    assert "lead_id" in errors
    assert "lead" in errors


async def test_another_organizations_lead_id_is_a_field_error(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await create_lead(other_tenant.client)
    response = await tenant.client.post("/contact/", json={"name": "Bob", "lead_id": theirs["id"]})
    assert "lead_id" in field_errors(response)
    fetched = ok(await other_tenant.client.get(f"/lead/{theirs['id']}/"))
    assert fetched["contact_ids"] == theirs["contact_ids"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"emails": [{"email": "not an address"}]}, "emails"),
        ({"emails": "bob@acme.example.com"}, "emails"),
        ({"name": 42}, "name"),
        ({"lead_id": 42}, "lead_id"),
        ({"lead_id": "lead_\u0000"}, "lead_id"),
        ({"name": "Bob\u0000"}, "name"),
        ({"phones": [{"phone": "+1\u0000555"}]}, "phones"),
    ],
)
async def test_bad_fields_on_create_are_field_errors(
    tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    response = await tenant.client.post("/contact/", json={"name": "Bob", **body})
    assert field in field_errors(response)


async def test_malformed_json_is_a_400(tenant: Tenant) -> None:
    response = await tenant.client.post(
        "/contact/", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert field_errors(response) == {}
    assert response.json()["errors"]


async def test_get_returns_the_created_contact(tenant: Tenant) -> None:
    contact = await create_contact(tenant.client)
    assert ok(await tenant.client.get(f"/contact/{contact['id']}/")) == contact


async def test_fields_limits_a_single_contact(tenant: Tenant) -> None:
    contact = await create_contact(tenant.client)
    fetched = ok(
        await tenant.client.get(f"/contact/{contact['id']}/", params={"_fields": "id,lead_id"})
    )
    assert fetched == {"id": contact["id"], "lead_id": contact["lead_id"]}


async def test_put_changes_only_the_fields_sent(tenant: Tenant) -> None:
    contact = await create_contact(tenant.client, title="CTO")
    updated = ok(await tenant.client.put(f"/contact/{contact['id']}/", json={"name": "Robert"}))
    assert updated["name"] == "Robert"
    assert updated["display_name"] == "Robert"
    assert updated["title"] == "CTO"
    assert updated["emails"] == contact["emails"]
    assert updated["lead_id"] == contact["lead_id"]
    assert updated["date_created"] == contact["date_created"]
    assert updated["date_updated"] >= contact["date_updated"]
    assert ok(await tenant.client.get(f"/contact/{contact['id']}/")) == updated


async def test_put_replaces_the_emails(tenant: Tenant) -> None:
    contact = await create_contact(tenant.client)
    emails = [{"email": "robert@acme.example.com", "type": "home"}]
    updated = ok(await tenant.client.put(f"/contact/{contact['id']}/", json={"emails": emails}))
    assert updated["emails"] == [{**emails[0], "is_unsubscribed": False}]
    assert updated["name"] == contact["name"]


async def test_bad_email_on_put_is_a_field_error_and_changes_nothing(tenant: Tenant) -> None:
    contact = await create_contact(tenant.client)
    response = await tenant.client.put(
        f"/contact/{contact['id']}/", json={"name": "X", "emails": [{"email": "nope"}]}
    )
    assert "emails" in field_errors(response)
    assert ok(await tenant.client.get(f"/contact/{contact['id']}/")) == contact


async def test_put_may_repeat_the_contacts_own_lead_id(tenant: Tenant) -> None:
    contact = await create_contact(tenant.client)
    body = {**contact, "title": "CFO"}
    updated = ok(await tenant.client.put(f"/contact/{contact['id']}/", json=body))
    assert (updated["lead_id"], updated["title"]) == (contact["lead_id"], "CFO")


@pytest.mark.parametrize("other", ["another lead", "unknown", None])
async def test_put_with_another_lead_id_is_a_field_error_and_changes_nothing(
    tenant: Tenant, other: str | None
) -> None:
    lead = await create_lead(tenant.client)
    contact = lead["contacts"][0]
    email = await create_email(tenant.client, lead["id"], contact_id=contact["id"])
    target = {"another lead": (await create_lead(tenant.client))["id"], "unknown": "lead_nope"}
    body = {"lead_id": target.get(other or "", None), "name": "Moved"}
    response = await tenant.client.put(f"/contact/{contact['id']}/", json=body)
    errors = field_errors(response)
    assert errors["lead_id"] == errors["lead"]
    assert errors["lead_id"].startswith("A contact cannot move to another lead")
    assert ok(await tenant.client.get(f"/contact/{contact['id']}/")) == contact
    moved = ok(await tenant.client.get(f"/activity/email/{email['id']}/"))
    assert (moved["lead_id"], moved["contact_id"]) == (lead["id"], contact["id"])


async def test_another_organizations_lead_id_on_put_is_a_field_error(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    contact = await create_contact(tenant.client)
    foreign = await create_lead(other_tenant.client)
    body = {"lead_id": foreign["id"]}
    assert "lead_id" in field_errors(
        await tenant.client.put(f"/contact/{contact['id']}/", json=body)
    )
    assert ok(await tenant.client.get(f"/contact/{contact['id']}/")) == contact
    assert ok(await other_tenant.client.get(f"/lead/{foreign['id']}/"))["contact_ids"] == [
        foreign["contacts"][0]["id"]
    ]


async def test_delete_answers_200_with_an_empty_object(tenant: Tenant) -> None:
    contact = await create_contact(tenant.client)
    assert ok(await tenant.client.delete(f"/contact/{contact['id']}/")) == {}
    response = await tenant.client.get(f"/contact/{contact['id']}/")
    assert response.status_code == 404
    assert response.json() == CONTACT_NOT_FOUND


async def test_deleting_a_contact_keeps_its_lead(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    contact_id = lead["contacts"][0]["id"]
    ok(await tenant.client.delete(f"/contact/{contact_id}/"))
    fetched = ok(await tenant.client.get(f"/lead/{lead['id']}/"))
    assert fetched["contact_ids"] == []
    assert fetched["contacts"] == []
    assert fetched["name"] == lead["name"]


async def test_deleting_a_contact_keeps_its_emails_without_contact_id(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    contact_id = lead["contacts"][0]["id"]
    email = await create_email(tenant.client, lead["id"], contact_id=contact_id)
    assert email["contact_id"] == contact_id
    ok(await tenant.client.delete(f"/contact/{contact_id}/"))
    kept = ok(await tenant.client.get(f"/activity/email/{email['id']}/"))
    assert kept["contact_id"] is None
    assert kept["lead_id"] == lead["id"]


async def test_list_is_filtered_by_lead_id(tenant: Tenant) -> None:
    first = await create_lead(tenant.client)
    second = await create_lead(tenant.client, name="Second")
    third = await create_lead(tenant.client, name="Third")
    one = ok(await tenant.client.get("/contact/", params={"lead_id": first["id"]}))
    assert [contact["id"] for contact in one["data"]] == first["contact_ids"]
    both = ok(
        await tenant.client.get("/contact/", params={"lead_id": f"{first['id']},{third['id']}"})
    )
    assert {contact["lead_id"] for contact in both["data"]} == {first["id"], third["id"]}
    assert second["contact_ids"][0] not in {contact["id"] for contact in both["data"]}


async def test_list_filtered_by_an_id_with_a_nul_character_is_a_400(tenant: Tenant) -> None:
    await create_contact(tenant.client)
    response = await tenant.client.get("/contact/", params={"lead_id": "lead_a\u0000b"})
    assert response.status_code == 400
    assert response.json()["errors"]


async def test_an_id_with_a_nul_character_is_not_found(tenant: Tenant) -> None:
    response = await tenant.client.get("/contact/cont_a%00b/")
    assert response.status_code == 404
    assert isinstance(response.json()["error"], str)


async def test_list_is_data_and_exact_has_more_newest_first(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client, contacts=[])
    made = [await create_contact(tenant.client, lead_id=lead["id"], name=n) for n in "ABC"]
    first = ok(await tenant.client.get("/contact/", params={"_limit": 2}))
    last = ok(await tenant.client.get("/contact/", params={"_skip": 2, "_limit": 2}))
    assert set(first) == {"data", "has_more"}
    assert first["has_more"] is True
    assert last["has_more"] is False
    shown = [contact["id"] for contact in first["data"] + last["data"]]
    assert shown == [contact["id"] for contact in reversed(made)]


@pytest.mark.parametrize(("name", "value"), [("_limit", 101), ("_skip", 10**20), ("_skip", -1)])
async def test_a_page_parameter_out_of_range_is_a_400_on_it(
    tenant: Tenant, name: str, value: int
) -> None:
    await create_contact(tenant.client)
    assert name in field_errors(await tenant.client.get("/contact/", params={name: value}))


async def test_a_blank_lead_id_lists_as_if_absent(tenant: Tenant) -> None:
    made = await create_contact(tenant.client)
    page = ok(await tenant.client.get("/contact/", params={"lead_id": ""}))
    assert made["id"] in {contact["id"] for contact in page["data"]}


async def test_fields_limits_the_objects_of_a_list(tenant: Tenant) -> None:
    await create_contact(tenant.client)
    page = ok(await tenant.client.get("/contact/", params={"_fields": "id,display_name"}))
    assert [set(contact) for contact in page["data"]] == [{"id", "display_name"}]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_another_organizations_contact_is_not_found(
    tenant: Tenant, other_tenant: Tenant, method: str
) -> None:
    theirs = await create_contact(other_tenant.client)
    response = await tenant.client.request(
        method, f"/contact/{theirs['id']}/", json={"name": "Mine now"} if method == "PUT" else None
    )
    assert response.status_code == 404
    assert response.json() == CONTACT_NOT_FOUND
    assert ok(await other_tenant.client.get(f"/contact/{theirs['id']}/")) == theirs


async def test_another_organizations_contacts_never_appear_in_the_list(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await create_contact(tenant.client)
    theirs = await create_contact(other_tenant.client)
    everything = ok(await tenant.client.get("/contact/"))
    assert [contact["id"] for contact in everything["data"]] == [mine["id"]]
    filtered = ok(await tenant.client.get("/contact/", params={"lead_id": theirs["lead_id"]}))
    assert filtered == {"data": [], "has_more": False}
