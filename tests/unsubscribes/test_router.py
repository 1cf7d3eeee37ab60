"""The unsubscribe list over HTTP: ``/unsubscribe/email/`` (list, add) and
``/unsubscribe/email/{email_address}/`` (resubscribe), per organization."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import field_errors, ok

ADDRESS = "jane@acme.example.com"
ITEM_FIELDS = {"id", "email", "organization_id", "created_by", "date_created"}
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
NOT_FOUND = {"error": "Empty query: UnsubscribedEmail matching query does not exist."}


async def unsubscribe(client: httpx.AsyncClient, email: Any) -> dict[str, Any]:
    response = await client.post("/unsubscribe/email/", json={"email": email})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def listed(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    return ok(await client.get("/unsubscribe/email/", params=params))


async def listed_emails(client: httpx.AsyncClient) -> list[str]:
    return [item["email"] for item in (await listed(client))["data"]]


async def test_unsubscribed_address_is_answered_with_201_and_its_fields(tenant: Tenant) -> None:
    created = await unsubscribe(tenant.client, ADDRESS)
    assert set(created) == ITEM_FIELDS
    assert created["email"] == ADDRESS
    assert created["organization_id"] == tenant.organization_id
    assert created["created_by"] == tenant.user_id
    assert created["id"].startswith("unsub_")
    assert DATETIME.match(created["date_created"]), created["date_created"]


async def test_list_shows_the_organizations_addresses_newest_first(tenant: Tenant) -> None:
    first = await unsubscribe(tenant.client, "a@acme.example.com")
    second = await unsubscribe(tenant.client, "b@acme.example.com")
    page = await listed(tenant.client)
    assert page == {"data": [second, first], "has_more": False}


async def test_list_pages_with_skip_and_limit(tenant: Tenant) -> None:
    for letter in "abc":
        await unsubscribe(tenant.client, f"{letter}@acme.example.com")
    first = await listed(tenant.client, _limit=2)
    rest = await listed(tenant.client, _skip=2, _limit=2)
    assert first["has_more"] is True
    assert rest["has_more"] is False
    emails = [item["email"] for item in first["data"] + rest["data"]]
    assert emails == ["c@acme.example.com", "b@acme.example.com", "a@acme.example.com"]


async def test_list_limit_above_100_is_a_400(tenant: Tenant) -> None:
    response = await tenant.client.get("/unsubscribe/email/", params={"_limit": 101})
    assert "_limit" in field_errors(response)


async def test_list_returns_only_the_fields_asked_for(tenant: Tenant) -> None:
    await unsubscribe(tenant.client, ADDRESS)
    page = await listed(tenant.client, _fields="email")
    assert page["data"] == [{"email": ADDRESS}]


async def test_unsubscribing_an_address_twice_keeps_one_row(tenant: Tenant) -> None:
    first = await unsubscribe(tenant.client, ADDRESS)
    again = await unsubscribe(tenant.client, ADDRESS)
    assert again == first
    assert await listed_emails(tenant.client) == [ADDRESS]


async def test_addresses_are_stored_lower_case_and_compared_case_insensitively(
    tenant: Tenant,
) -> None:
    created = await unsubscribe(tenant.client, "Jane@ACME.example.com")
    again = await unsubscribe(tenant.client, "jane@acme.EXAMPLE.com")
    assert created["email"] == ADDRESS
    assert again["id"] == created["id"]
    assert ok(await tenant.client.delete("/unsubscribe/email/JANE@Acme.Example.Com/")) == {}
    assert await listed_emails(tenant.client) == []


async def test_an_address_with_a_display_name_is_stored_bare(tenant: Tenant) -> None:
    created = await unsubscribe(tenant.client, '"Jane Doe" <Jane@acme.example.com>')
    assert created["email"] == ADDRESS


@pytest.mark.parametrize(
    "email",
    ["not-an-address", "", "   ", "jane@", "a@b@acme.example.com",
     "a@acme.example.com, b@acme.example.com", "jane@acme.example.com\r\nBcc: x@y.com",
     "x" * 490 + "@acme.example.com", 42, None, ["jane@acme.example.com"]],
)  # fmt: skip
async def test_a_bad_address_is_a_400_naming_email_and_changes_nothing(
    tenant: Tenant, email: Any
) -> None:
    response = await tenant.client.post("/unsubscribe/email/", json={"email": email})
    errors = field_errors(response)
    assert set(errors) == {"email"}
    assert response.json()["error"].startswith("email: ")
    assert await listed_emails(tenant.client) == []


async def test_a_body_without_email_is_a_400_naming_email(tenant: Tenant) -> None:
    response = await tenant.client.post("/unsubscribe/email/", json={"address": ADDRESS})
    assert set(field_errors(response)) == {"email"}


async def test_resubscribing_answers_an_empty_object_and_takes_the_address_off(
    tenant: Tenant,
) -> None:
    await unsubscribe(tenant.client, ADDRESS)
    await unsubscribe(tenant.client, "other@acme.example.com")
    assert ok(await tenant.client.delete(f"/unsubscribe/email/{ADDRESS}/")) == {}
    assert await listed_emails(tenant.client) == ["other@acme.example.com"]


@pytest.mark.parametrize(
    "path",
    ["/unsubscribe/email/jane%40acme.example.com/", "/unsubscribe/email/jane%40acme.example.com"],
)
async def test_resubscribing_takes_a_url_encoded_address(tenant: Tenant, path: str) -> None:
    await unsubscribe(tenant.client, ADDRESS)
    assert ok(await tenant.client.delete(path)) == {}
    assert await listed_emails(tenant.client) == []


async def test_an_address_with_a_slash_can_be_resubscribed(tenant: Tenant) -> None:
    await unsubscribe(tenant.client, "sales/emea@acme.example.com")
    response = await tenant.client.delete("/unsubscribe/email/sales%2Femea%40acme.example.com/")
    assert ok(response) == {}
    assert await listed_emails(tenant.client) == []


@pytest.mark.parametrize("address", [ADDRESS, "not-an-address"])
async def test_resubscribing_an_address_not_on_the_list_is_a_404(
    tenant: Tenant, address: str
) -> None:
    response = await tenant.client.delete(f"/unsubscribe/email/{address}/")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


async def test_resubscribing_twice_is_a_404_the_second_time(tenant: Tenant) -> None:
    await unsubscribe(tenant.client, ADDRESS)
    ok(await tenant.client.delete(f"/unsubscribe/email/{ADDRESS}/"))
    response = await tenant.client.delete(f"/unsubscribe/email/{ADDRESS}/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


async def test_an_address_can_be_unsubscribed_again_after_resubscribing(tenant: Tenant) -> None:
    first = await unsubscribe(tenant.client, ADDRESS)
    ok(await tenant.client.delete(f"/unsubscribe/email/{ADDRESS}/"))
    again = await unsubscribe(tenant.client, ADDRESS)
    assert again["id"] != first["id"]
    assert await listed_emails(tenant.client) == [ADDRESS]


async def test_another_organization_neither_sees_nor_changes_the_list(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await unsubscribe(tenant.client, ADDRESS)
    assert await listed_emails(other_tenant.client) == []
    response = await other_tenant.client.delete(f"/unsubscribe/email/{ADDRESS}/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    theirs = await unsubscribe(other_tenant.client, ADDRESS)
    assert theirs["id"] != mine["id"]
    assert theirs["organization_id"] == other_tenant.organization_id
    ok(await other_tenant.client.delete(f"/unsubscribe/email/{ADDRESS}/"))
    assert (await listed(tenant.client))["data"] == [mine]


async def test_a_colleague_shares_the_organizations_list(tenant: Tenant, colleague: Tenant) -> None:
    created = await unsubscribe(tenant.client, ADDRESS)
    assert (await listed(colleague.client))["data"] == [created]
    assert ok(await colleague.client.delete(f"/unsubscribe/email/{ADDRESS}/")) == {}
    assert await listed_emails(tenant.client) == []


async def test_the_list_needs_an_api_key(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/unsubscribe/email/")).status_code == 401
    response = await anonymous.post("/unsubscribe/email/", json={"email": ADDRESS})
    assert response.status_code == 401
