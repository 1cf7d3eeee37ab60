"""``/me/``, ``/user/`` and ``/organization/``: shapes, paging, ``_fields``, tenancy (spec §3)."""

from __future__ import annotations

import re

from postroom.db import Database
from postroom.kit.ids import new_id
from postroom.users import repository
from postroom.users import service as user_service
from tests.conftest import Tenant
from tests.helpers import field_errors, ok

DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


async def add_colleague(database: Database, tenant: Tenant, name: str = "Colin League") -> str:
    """Create one more user in the tenant's organization; return its id."""
    async with database.transaction() as session:
        organization = await repository.get_organization(session, tenant.organization_id)
        assert organization is not None
        email = f"{new_id('c').lower()}@example.com"
        user = await user_service.create_user(session, email, name, organization.name)
    return user.id


def not_found(response_body: dict[str, object], model: str) -> None:
    assert response_body == {"error": f"Empty query: {model} matching query does not exist."}


async def test_me_is_the_key_owner_with_names_and_email(tenant: Tenant) -> None:
    me = ok(await tenant.client.get("/me/"))
    assert me["id"] == tenant.user_id
    assert me["email"] == tenant.user_email
    assert (me["first_name"], me["last_name"]) == ("Jane", "Sender")


async def test_me_lists_the_organization_with_id_and_name(
    tenant: Tenant, database: Database
) -> None:
    async with database.sessions() as session:
        organization = await repository.get_organization(session, tenant.organization_id)
    assert organization is not None
    me = ok(await tenant.client.get("/me/"))
    assert me["organizations"] == [{"id": tenant.organization_id, "name": organization.name}]


async def test_me_dates_have_microseconds_and_utc_offset(tenant: Tenant) -> None:
    me = ok(await tenant.client.get("/me/"))
    assert DATETIME.match(me["date_created"]), me["date_created"]
    assert DATETIME.match(me["date_updated"]), me["date_updated"]


async def test_me_fields_returns_only_those_fields(tenant: Tenant) -> None:
    me = ok(await tenant.client.get("/me/", params={"_fields": "id,email"}))
    assert me == {"id": tenant.user_id, "email": tenant.user_email}


async def test_user_list_has_data_and_has_more(tenant: Tenant) -> None:
    body = ok(await tenant.client.get("/user/"))
    assert set(body) == {"data", "has_more"}
    assert [user["id"] for user in body["data"]] == [tenant.user_id]
    assert body["has_more"] is False


async def test_user_list_shows_only_the_callers_organization(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    body = ok(await tenant.client.get("/user/"))
    assert other_tenant.user_id not in [user["id"] for user in body["data"]]


async def test_user_list_is_newest_first(tenant: Tenant, database: Database) -> None:
    second = await add_colleague(database, tenant)
    third = await add_colleague(database, tenant)
    body = ok(await tenant.client.get("/user/"))
    assert [user["id"] for user in body["data"]] == [third, second, tenant.user_id]


async def test_user_list_limit_sets_has_more(tenant: Tenant, database: Database) -> None:
    await add_colleague(database, tenant)
    await add_colleague(database, tenant)
    body = ok(await tenant.client.get("/user/", params={"_limit": 2}))
    assert len(body["data"]) == 2
    assert body["has_more"] is True


async def test_user_list_skip_pages_through_every_user_once(
    tenant: Tenant, database: Database
) -> None:
    everyone = {tenant.user_id, await add_colleague(database, tenant)}
    everyone.add(await add_colleague(database, tenant))
    first = ok(await tenant.client.get("/user/", params={"_limit": 2}))
    last = ok(await tenant.client.get("/user/", params={"_limit": 2, "_skip": 2}))
    seen = [user["id"] for user in first["data"] + last["data"]]
    assert sorted(seen) == sorted(everyone)
    assert last["has_more"] is False


async def test_user_list_fields_applies_to_every_item(tenant: Tenant) -> None:
    body = ok(await tenant.client.get("/user/", params={"_fields": "id"}))
    assert body["data"] == [{"id": tenant.user_id}]


async def test_user_list_limit_over_100_is_a_close_style_400(tenant: Tenant) -> None:
    response = await tenant.client.get("/user/", params={"_limit": 101})
    assert "_limit" in field_errors(response)
    assert isinstance(response.json()["error"], str)


async def test_user_list_negative_skip_is_a_400(tenant: Tenant) -> None:
    assert "_skip" in field_errors(await tenant.client.get("/user/", params={"_skip": -1}))


async def test_user_by_id(tenant: Tenant) -> None:
    user = ok(await tenant.client.get(f"/user/{tenant.user_id}/"))
    assert user["id"] == tenant.user_id
    assert user["email"] == tenant.user_email
    assert (user["first_name"], user["last_name"]) == ("Jane", "Sender")


async def test_colleague_by_id(tenant: Tenant, database: Database) -> None:
    colleague = await add_colleague(database, tenant, "Colin League")
    user = ok(await tenant.client.get(f"/user/{colleague}/"))
    assert (user["id"], user["first_name"], user["last_name"]) == (colleague, "Colin", "League")


async def test_user_of_another_organization_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    response = await tenant.client.get(f"/user/{other_tenant.user_id}/")
    assert response.status_code == 404
    not_found(response.json(), "User")


async def test_unknown_user_id_is_404(tenant: Tenant) -> None:
    response = await tenant.client.get("/user/user_doesNotExist/")
    assert response.status_code == 404
    not_found(response.json(), "User")


async def test_organization_by_id(tenant: Tenant) -> None:
    organization = ok(await tenant.client.get(f"/organization/{tenant.organization_id}/"))
    me = ok(await tenant.client.get("/me/"))
    assert organization["id"] == tenant.organization_id
    assert organization["name"] == me["organizations"][0]["name"]
    assert DATETIME.match(organization["date_created"]), organization["date_created"]


MEMBERSHIP_FIELDS = {
    "id", "organization_id", "user_id", "user_email", "user_first_name", "user_last_name",
    "user_full_name", "date_created", "date_updated",
}  # fmt: skip


async def test_organization_lists_its_users_as_memberships_with_user_fields(
    tenant: Tenant, database: Database
) -> None:
    colleague_id = await add_colleague(database, tenant)
    organization = ok(await tenant.client.get(f"/organization/{tenant.organization_id}/"))
    first, second = organization["memberships"]
    assert (first["user_id"], second["user_id"]) == (tenant.user_id, colleague_id)
    assert set(first) == MEMBERSHIP_FIELDS
    assert first["id"].startswith("mem_")
    assert first["id"] != second["id"]
    assert first["organization_id"] == tenant.organization_id
    assert (first["user_email"], first["user_full_name"]) == (tenant.user_email, "Jane Sender")
    assert (first["user_first_name"], first["user_last_name"]) == ("Jane", "Sender")
    assert second["user_full_name"] == "Colin League"
    assert DATETIME.match(first["date_created"]), first["date_created"]
    assert organization["inactive_memberships"] == []
    again = ok(await tenant.client.get(f"/organization/{tenant.organization_id}/"))
    assert [item["id"] for item in again["memberships"]] == [first["id"], second["id"]]


async def test_expand_memberships_user_nests_the_user_object(tenant: Tenant) -> None:
    url = f"/organization/{tenant.organization_id}/"
    params = {"_expand": "memberships__user,inactive_memberships__user"}
    [membership] = ok(await tenant.client.get(url, params=params))["memberships"]
    me = ok(await tenant.client.get("/me/"))
    assert membership["user"] == me
    assert set(membership) == {
        "id", "organization_id", "user_id", "user", "date_created", "date_updated",
    }  # fmt: skip


async def test_unknown_expand_is_a_field_error(tenant: Tenant) -> None:
    url = f"/organization/{tenant.organization_id}/"
    response = await tenant.client.get(url, params={"_expand": "memberships__usr"})
    assert "_expand" in field_errors(response)


async def test_memberships_never_show_another_organizations_users(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    organization = ok(await tenant.client.get(f"/organization/{tenant.organization_id}/"))
    assert [item["user_id"] for item in organization["memberships"]] == [tenant.user_id]


async def test_organization_fields_returns_only_those_fields(tenant: Tenant) -> None:
    response = await tenant.client.get(
        f"/organization/{tenant.organization_id}/", params={"_fields": "id"}
    )
    assert ok(response) == {"id": tenant.organization_id}


async def test_another_organization_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    response = await tenant.client.get(f"/organization/{other_tenant.organization_id}/")
    assert response.status_code == 404
    not_found(response.json(), "Organization")


async def test_unknown_organization_id_is_404(tenant: Tenant) -> None:
    response = await tenant.client.get("/organization/orga_doesNotExist/")
    assert response.status_code == 404
    not_found(response.json(), "Organization")
