"""Leads over HTTP: nested contacts, PUT as PATCH, cascading DELETE, paging, tenancy (§1, §3)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from postroom.leads.schemas import status_id_for
from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, field_errors, ok

LEAD_REQUIRED = [
    "contact_ids",
    "created_by",
    "date_created",
    "date_updated",
    "description",
    "html_url",
    "id",
    "name",
    "organization_id",
    "status_id",
    "updated_by",
    "url",
]
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
LEAD_NOT_FOUND = {"error": "Empty query: Lead matching query does not exist."}
TWO_CONTACTS = [
    {"name": "Jane Doe", "title": "CEO", "emails": [{"email": "jane@acme.example.com"}]},
    {"name": "John Roe", "emails": [{"email": "john@acme.example.com", "type": "home"}]},
]


def bad_request(response: httpx.Response) -> dict[str, str]:
    """The field errors of a Close-style 400 (``errors`` a list, ``field-errors`` a dict)."""
    errors = field_errors(response)
    assert isinstance(errors, dict)
    assert isinstance(response.json()["error"], str)
    return errors


async def test_created_lead_has_every_field_the_spec_requires(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    for name in [*LEAD_REQUIRED, "display_name", "status_label", "contacts"]:
        assert name in lead, name
    assert lead["organization_id"] == tenant.organization_id
    assert lead["created_by"] == tenant.user_id
    assert lead["updated_by"] == tenant.user_id
    assert lead["description"] is None
    assert lead["url"] is None


async def test_created_lead_nests_its_contacts_with_their_emails(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client, contacts=TWO_CONTACTS)
    assert lead["id"].startswith("lead_")
    assert [contact["name"] for contact in lead["contacts"]] == ["Jane Doe", "John Roe"]
    assert lead["contact_ids"] == [contact["id"] for contact in lead["contacts"]]
    for contact in lead["contacts"]:
        assert contact["id"].startswith("cont_")
        assert contact["lead_id"] == lead["id"]
        for name in CONTACT_REQUIRED:
            assert name in contact, name
    assert lead["contacts"][0]["title"] == "CEO"
    assert lead["contacts"][1]["emails"] == [
        {"email": "john@acme.example.com", "type": "home", "is_unsubscribed": False}
    ]


async def test_display_name_is_the_name_and_status_defaults_to_potential(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client, name="Acme Corp")
    assert lead["display_name"] == "Acme Corp"
    assert lead["status_label"] == "Potential"
    assert lead["status_id"].startswith("stat_")


async def test_posted_status_label_is_kept(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client, status_label="Qualified")
    assert lead["status_label"] == "Qualified"


async def test_lead_without_name_is_displayed_as_its_first_contact(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client, name=None, contacts=TWO_CONTACTS)
    assert lead["name"] is None
    assert lead["display_name"] == "Jane Doe"


async def test_lead_and_contact_dates_have_microseconds_and_utc_offset(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    fetched = ok(await tenant.client.get(f"/lead/{lead['id']}/"))
    for document in (lead, lead["contacts"][0], fetched, fetched["contacts"][0]):
        for name in ("date_created", "date_updated"):
            assert DATETIME.match(document[name]), (name, document[name])


async def test_a_lead_names_who_created_it_and_who_changed_it_last(
    tenant: Tenant, colleague: Tenant
) -> None:
    """Close's ``Lead`` has ``created_by_name`` and ``updated_by_name`` beside the ids."""
    lead = await create_lead(tenant.client)
    assert (lead["created_by_name"], lead["updated_by_name"]) == ("Jane Sender", "Jane Sender")
    ok(await colleague.client.put(f"/lead/{lead['id']}/", json={"name": "Renamed"}))
    for client in (tenant.client, colleague.client):
        read = ok(await client.get(f"/lead/{lead['id']}/"))
        assert (read["created_by_name"], read["updated_by_name"]) == ("Jane Sender", "Colin League")
        listed = ok(await client.get("/lead/"))["data"]
        assert [item["updated_by_name"] for item in listed] == ["Colin League"]


async def test_primary_phone_is_the_first_phone_of_the_leads_contacts(tenant: Tenant) -> None:
    """Close's ``Lead`` has ``primary_phone`` (a ``ContactPhone`` or null) as it has
    ``primary_email``: the first of its contacts', oldest contact first."""
    contacts = [
        {"name": "No Phone"},
        {"name": "Jane", "phones": [{"phone": "+14155550100", "type": "mobile"}]},
        {"name": "John", "phones": [{"phone": "+14155550199", "type": "office"}]},
    ]
    lead = await create_lead(tenant.client, contacts=contacts)
    expected = {"phone": "+14155550100", "type": "mobile", "phone_formatted": "+14155550100"}
    assert lead["primary_phone"] == expected
    assert ok(await tenant.client.get(f"/lead/{lead['id']}/"))["primary_phone"] == expected
    assert (await create_lead(tenant.client, contacts=[{"name": "Mute"}]))["primary_phone"] is None


async def test_get_returns_the_created_lead(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client, contacts=TWO_CONTACTS)
    assert ok(await tenant.client.get(f"/lead/{lead['id']}/")) == lead


async def test_put_changes_only_the_fields_sent(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client, description="Big fish", url="https://acme.example.com")
    updated = ok(await tenant.client.put(f"/lead/{lead['id']}/", json={"name": "Acme Inc"}))
    assert updated["name"] == "Acme Inc"
    assert updated["display_name"] == "Acme Inc"
    assert updated["description"] == "Big fish"
    assert updated["url"] == "https://acme.example.com"
    assert updated["status_label"] == lead["status_label"]
    assert updated["date_created"] == lead["date_created"]
    assert updated["date_updated"] >= lead["date_updated"]
    assert ok(await tenant.client.get(f"/lead/{lead['id']}/")) == updated


async def test_put_changes_the_status_label(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    updated = ok(await tenant.client.put(f"/lead/{lead['id']}/", json={"status_label": "Won"}))
    assert updated["status_label"] == "Won"
    assert updated["status_id"] != lead["status_id"]


async def test_status_id_of_an_existing_status_sets_its_label(tenant: Tenant) -> None:
    won = await create_lead(tenant.client, status_label="Won")
    lead = await create_lead(tenant.client, status_id=won["status_id"])
    assert (lead["status_label"], lead["status_id"]) == ("Won", won["status_id"])
    other = await create_lead(tenant.client)
    body = {"status_id": won["status_id"]}
    updated = ok(await tenant.client.put(f"/lead/{other['id']}/", json=body))
    assert (updated["status_label"], updated["status_id"]) == ("Won", won["status_id"])


async def test_status_id_of_the_default_status_is_known_before_any_lead_has_it(
    tenant: Tenant,
) -> None:
    lead = await create_lead(tenant.client, status_label="Qualified")
    default_id = status_id_for(tenant.organization_id, "Potential")
    updated = ok(await tenant.client.put(f"/lead/{lead['id']}/", json={"status_id": default_id}))
    assert (updated["status_label"], updated["status_id"]) == ("Potential", default_id)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status_id": "stat_doesnotexist"}, "status_id"),
        ({"status_id": ""}, "status_id"),
        ({"status_id": None}, "status_id"),
        ({"status_label": ""}, "status_label"),
        ({"status_label": "   "}, "status_label"),
        ({"status_label": None}, "status_label"),
        ({"status": ""}, "status"),
        ({"status_label": "Won", "status": "Lost"}, "status"),
    ],
)
async def test_a_bad_status_on_create_is_a_field_error_and_creates_nothing(
    tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    response = await tenant.client.post("/lead/", json={"name": "Acme", **body})
    assert field in bad_request(response)
    assert ok(await tenant.client.get("/lead/"))["data"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status_id": "stat_doesnotexist"}, "status_id"),
        ({"status_label": ""}, "status_label"),
        ({"status_label": None}, "status_label"),
        ({"status": " "}, "status"),
        ({"status_label": "Lost", "status_id": "won"}, "status_id"),
    ],
)
async def test_a_bad_status_on_put_is_a_field_error_and_changes_nothing(
    tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    won = await create_lead(tenant.client, status_label="Won")
    lead = await create_lead(tenant.client)
    body = {**body, "name": "Renamed"}
    if body.get("status_id") == "won":
        body["status_id"] = won["status_id"]
    response = await tenant.client.put(f"/lead/{lead['id']}/", json=body)
    assert field in bad_request(response)
    assert ok(await tenant.client.get(f"/lead/{lead['id']}/")) == lead


async def test_a_status_id_of_another_organization_is_not_found(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = await create_lead(other_tenant.client, status_label="Won")
    await create_lead(tenant.client, status_label="Won")
    response = await tenant.client.post("/lead/", json={"status_id": foreign["status_id"]})
    assert bad_request(response)["status_id"] == "Status not found."


async def test_status_id_and_label_of_a_new_status_posted_together_are_accepted(
    tenant: Tenant,
) -> None:
    """A whole lead object posted back names its status twice; a new label makes a status."""
    status_id = status_id_for(tenant.organization_id, "Nurture")
    lead = await create_lead(tenant.client, status_label="Nurture", status_id=status_id)
    assert (lead["status_label"], lead["status_id"]) == ("Nurture", status_id)


async def test_put_ignores_nested_contacts(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    body = {"description": "new", "contacts": [{"name": "Intruder"}]}
    updated = ok(await tenant.client.put(f"/lead/{lead['id']}/", json=body))
    assert updated["description"] == "new"
    assert updated["contacts"] == lead["contacts"]
    assert updated["contact_ids"] == lead["contact_ids"]


HQ = {"label": "business", "address_1": "1 Main St", "city": "Springfield", "country": "US"}
ADDRESS_KEYS = {"label", "address_1", "address_2", "city", "state", "zipcode", "country"}


async def test_addresses_nested_in_a_created_lead_are_kept(tenant: Tenant) -> None:
    """Close: "contacts, addresses, and custom fields can all be nested in the lead". Each
    address has every field of Close's ``LeadAddress``, ``null`` where none was posted."""
    lead = await create_lead(tenant.client, addresses=[HQ, {"city": "Berlin", "state": None}])
    assert [set(address) for address in lead["addresses"]] == [ADDRESS_KEYS, ADDRESS_KEYS]
    first, second = lead["addresses"]
    assert {key: first[key] for key in HQ} == HQ
    assert (first["address_2"], first["state"], first["zipcode"]) == (None, None, None)
    assert (second["city"], second["label"], second["country"]) == ("Berlin", None, None)
    assert ok(await tenant.client.get(f"/lead/{lead['id']}/"))["addresses"] == lead["addresses"]
    listed = ok(await tenant.client.get("/lead/"))["data"]
    assert [item["addresses"] for item in listed] == [lead["addresses"]]


async def test_put_replaces_the_addresses_and_only_when_sent(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client, addresses=[HQ])
    kept = ok(await tenant.client.put(f"/lead/{lead['id']}/", json={"description": "d"}))
    assert kept["addresses"] == lead["addresses"]
    moved = {"address_1": "2 Side St", "city": "Shelbyville", "zipcode": "12345"}
    replaced = ok(await tenant.client.put(f"/lead/{lead['id']}/", json={"addresses": [moved]}))
    assert [address["address_1"] for address in replaced["addresses"]] == ["2 Side St"]
    assert replaced["date_updated"] > kept["date_updated"]
    cleared = ok(await tenant.client.put(f"/lead/{lead['id']}/", json={"addresses": []}))
    assert cleared["addresses"] == []


async def test_putting_the_same_addresses_back_is_no_update(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client, addresses=[HQ])
    again = ok(await tenant.client.put(f"/lead/{lead['id']}/", json=lead))
    assert again["date_updated"] == lead["date_updated"]
    assert again["addresses"] == lead["addresses"]


@pytest.mark.parametrize(
    "addresses",
    [{"city": "x"}, ["1 Main St"], [{"city": 5}], [{"city": "x" * 1001}], [HQ] * 101],
)
async def test_bad_addresses_are_a_field_error_and_create_nothing(
    tenant: Tenant, addresses: Any
) -> None:
    response = await tenant.client.post("/lead/", json={"name": "A", "addresses": addresses})
    assert set(field_errors(response)) == {"addresses"}
    assert ok(await tenant.client.get("/lead/"))["data"] == []


async def test_put_of_the_whole_object_read_back_is_accepted(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    updated = ok(await tenant.client.put(f"/lead/{lead['id']}/", json=lead))
    assert updated["id"] == lead["id"]
    assert updated["contact_ids"] == lead["contact_ids"]


async def test_delete_answers_200_with_an_empty_object(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    assert ok(await tenant.client.delete(f"/lead/{lead['id']}/")) == {}
    response = await tenant.client.get(f"/lead/{lead['id']}/")
    assert response.status_code == 404
    assert response.json() == LEAD_NOT_FOUND


async def test_deleting_a_lead_deletes_its_contacts_and_emails(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    contact_id = lead["contacts"][0]["id"]
    email = await create_email(tenant.client, lead["id"], contact_id=contact_id)
    ok(await tenant.client.delete(f"/lead/{lead['id']}/"))
    assert (await tenant.client.get(f"/contact/{contact_id}/")).status_code == 404
    assert (await tenant.client.get(f"/activity/email/{email['id']}/")).status_code == 404


async def test_deleting_a_lead_leaves_other_leads_alone(tenant: Tenant) -> None:
    doomed = await create_lead(tenant.client)
    kept = await create_lead(tenant.client, name="Kept")
    email = await create_email(tenant.client, kept["id"])
    ok(await tenant.client.delete(f"/lead/{doomed['id']}/"))
    assert ok(await tenant.client.get(f"/lead/{kept['id']}/")) == kept
    assert ok(await tenant.client.get(f"/activity/email/{email['id']}/"))["id"] == email["id"]


async def three_leads(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    return [await create_lead(client, name=name) for name in ("First", "Second", "Third")]


async def test_list_is_data_and_has_more_newest_first(tenant: Tenant) -> None:
    leads = await three_leads(tenant.client)
    page = ok(await tenant.client.get("/lead/"))
    assert set(page) == {"data", "has_more"}
    assert page["has_more"] is False
    assert [lead["id"] for lead in page["data"]] == [lead["id"] for lead in reversed(leads)]
    assert page["data"][0] == leads[-1]


async def test_has_more_is_exact(tenant: Tenant) -> None:
    await three_leads(tenant.client)
    first = ok(await tenant.client.get("/lead/", params={"_limit": 2}))
    last = ok(await tenant.client.get("/lead/", params={"_skip": 2, "_limit": 2}))
    exact = ok(await tenant.client.get("/lead/", params={"_limit": 3}))
    assert (len(first["data"]), first["has_more"]) == (2, True)
    assert (len(last["data"]), last["has_more"]) == (1, False)
    assert (len(exact["data"]), exact["has_more"]) == (3, False)


async def test_paging_with_skip_visits_every_lead_once(tenant: Tenant) -> None:
    leads = await three_leads(tenant.client)
    seen: list[str] = []
    while True:
        page = ok(await tenant.client.get("/lead/", params={"_skip": len(seen), "_limit": 1}))
        seen += [lead["id"] for lead in page["data"]]
        if not page["has_more"]:
            break
    assert seen == [lead["id"] for lead in reversed(leads)]


async def test_limit_over_100_is_a_400(tenant: Tenant) -> None:
    response = await tenant.client.get("/lead/", params={"_limit": 101})
    assert "_limit" in bad_request(response)


async def test_fields_limits_the_objects_of_a_list(tenant: Tenant) -> None:
    await create_lead(tenant.client)
    page = ok(await tenant.client.get("/lead/", params={"_fields": "id,display_name"}))
    assert [set(lead) for lead in page["data"]] == [{"id", "display_name"}]
    assert page["has_more"] is False


async def test_fields_limits_a_single_lead(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    fetched = ok(await tenant.client.get(f"/lead/{lead['id']}/", params={"_fields": "id,name"}))
    assert fetched == {"id": lead["id"], "name": lead["name"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 42}, "name"),
        ({"name": ["Acme"]}, "name"),
        ({"contacts": "Jane Doe"}, "contacts"),
        ({"contacts": {"name": "Jane Doe"}}, "contacts"),
        ({"contacts": [{"name": "Jane", "emails": [{"email": "not an address"}]}]}, "contacts"),
        ({"contacts": [{"name": "Jane", "emails": "jane@example.com"}]}, "contacts"),
    ],
)
async def test_bad_fields_on_create_are_field_errors(
    tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    response = await tenant.client.post("/lead/", json={"name": "Acme", **body})
    assert field in bad_request(response)


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"name": "Acme",}', b"[1, 2]", b"null", b'"Acme"'],
)
async def test_a_body_that_is_not_a_json_object_is_a_400(tenant: Tenant, content: bytes) -> None:
    response = await tenant.client.post(
        "/lead/", content=content, headers={"Content-Type": "application/json"}
    )
    bad_request(response)
    assert response.json()["errors"]


async def test_a_body_that_is_not_utf8_is_a_close_style_400(tenant: Tenant) -> None:
    response = await tenant.client.post(
        "/lead/", content=b'{"name": "\xff"}', headers={"Content-Type": "application/json"}
    )
    bad_request(response)
    assert response.json()["errors"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Acme\u0000Corp"},
        {"description": "\u0000"},
        {"contacts": [{"name": "Jane\u0000"}]},
        {"contacts": [{"emails": [{"email": "jane@acme.example.com", "type": "of\u0000fice"}]}]},
    ],
)
async def test_text_with_a_nul_character_is_a_field_error(
    tenant: Tenant, body: dict[str, Any]
) -> None:
    response = await tenant.client.post("/lead/", json=body)
    assert set(bad_request(response)) == set(body)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_an_id_with_a_nul_character_is_not_found(tenant: Tenant, method: str) -> None:
    response = await tenant.client.request(
        method, "/lead/lead_a%00b/", json={} if method == "PUT" else None
    )
    assert response.status_code == 404
    assert isinstance(response.json()["error"], str)


async def test_a_skip_beyond_any_database_integer_is_a_400(tenant: Tenant) -> None:
    response = await tenant.client.get("/lead/", params={"_skip": 10**20})
    assert "_skip" in bad_request(response)


async def test_bad_fields_on_put_are_field_errors_and_change_nothing(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    response = await tenant.client.put(
        f"/lead/{lead['id']}/", json={"name": 42, "description": "changed"}
    )
    assert "name" in bad_request(response)
    assert ok(await tenant.client.get(f"/lead/{lead['id']}/")) == lead


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_another_organizations_lead_is_not_found(
    tenant: Tenant, other_tenant: Tenant, method: str
) -> None:
    theirs = await create_lead(other_tenant.client)
    response = await tenant.client.request(
        method, f"/lead/{theirs['id']}/", json={"name": "Mine now"} if method == "PUT" else None
    )
    assert response.status_code == 404
    assert response.json() == LEAD_NOT_FOUND
    assert ok(await other_tenant.client.get(f"/lead/{theirs['id']}/")) == theirs


async def test_unknown_lead_is_not_found(tenant: Tenant) -> None:
    response = await tenant.client.get("/lead/lead_doesnotexist/")
    assert response.status_code == 404
    assert response.json() == LEAD_NOT_FOUND


async def test_another_organizations_leads_never_appear_in_the_list(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await create_lead(tenant.client)
    await create_lead(other_tenant.client)
    page = ok(await tenant.client.get("/lead/"))
    assert [lead["id"] for lead in page["data"]] == [mine["id"]]


async def test_a_lead_search_is_refused_rather_than_answered_with_every_lead(
    tenant: Tenant,
) -> None:
    """Close's search language is not served: answering ``query`` with every lead would hand a
    search-then-delete script the whole organization."""
    await create_lead(tenant.client, name="Acme")
    await create_lead(tenant.client, name="Globex")
    response = await tenant.client.get("/lead/", params={"query": 'name:"Acme"'})
    assert set(field_errors(response)) == {"query"}
    blank = ok(await tenant.client.get("/lead/", params={"query": " "}))
    assert {"Acme", "Globex"} <= {lead["name"] for lead in blank["data"]}
