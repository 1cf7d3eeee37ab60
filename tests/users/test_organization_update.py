"""``PUT /organization/{id}/``: renames the caller's organization; ``currency``, and
``lead_statuses`` other than GET shows them, are refused by name (docs/decisions.md,
Organizations; ``lead_statuses`` in detail in ``test_lead_statuses.py``)."""

from __future__ import annotations

from typing import Any

from postroom.db import Database
from postroom.kit.ids import new_id
from postroom.users import service as user_service
from tests.conftest import Tenant
from tests.helpers import field_errors, ok
from tests.users.test_router import not_found


def fresh(name: str) -> str:
    """``name`` made unique: the tests share a database, and the organizations they create
    are found by name (``users create --org``)."""
    return f"{name} {new_id('n')}"


def url(tenant: Tenant) -> str:
    return f"/organization/{tenant.organization_id}/"


async def organization(tenant: Tenant) -> dict[str, Any]:
    return ok(await tenant.client.get(url(tenant)))


async def test_put_name_renames_and_returns_the_organization_as_get_shows_it(
    tenant: Tenant,
) -> None:
    name = fresh("Acme Sales")
    renamed = ok(await tenant.client.put(url(tenant), json={"name": name}))
    assert renamed["name"] == name
    assert renamed == await organization(tenant)


async def test_new_name_shows_in_me(tenant: Tenant) -> None:
    name = fresh("Acme Sales")
    ok(await tenant.client.put(url(tenant), json={"name": name}))
    me = ok(await tenant.client.get("/me/"))
    assert me["organizations"] == [{"id": tenant.organization_id, "name": name}]


async def test_rename_moves_date_updated_only(tenant: Tenant) -> None:
    before = await organization(tenant)
    after = ok(await tenant.client.put(url(tenant), json={"name": fresh("Acme Sales")}))
    assert after["date_created"] == before["date_created"]
    assert after["date_updated"] > before["date_updated"]


async def test_put_without_changes_changes_nothing(tenant: Tenant) -> None:
    before = await organization(tenant)
    assert ok(await tenant.client.put(url(tenant), json={})) == before
    assert ok(await tenant.client.put(url(tenant), json={"name": before["name"]})) == before


async def test_name_is_trimmed(tenant: Tenant) -> None:
    name = fresh("Acme Sales")
    renamed = ok(await tenant.client.put(url(tenant), json={"name": f"  {name}  "}))
    assert renamed["name"] == name


async def test_blank_null_multi_line_or_too_long_name_is_a_field_error(tenant: Tenant) -> None:
    before = await organization(tenant)
    for name in ("", "   ", None, "x" * 256, 7, "Acme\nSales", "Acme\tSales"):
        response = await tenant.client.put(url(tenant), json={"name": name})
        assert "name" in field_errors(response), name
    assert await organization(tenant) == before


async def test_name_of_another_organization_is_accepted_and_tells_nothing_of_it(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    """Names are not unique: a rename to another organization's name answers as one to a
    name nobody has, so no caller learns which names the server's other organizations have;
    the other organization is untouched."""
    theirs = await organization(other_tenant)
    renamed = ok(await tenant.client.put(url(tenant), json={"name": theirs["name"]}))
    assert (renamed["id"], renamed["name"]) == (tenant.organization_id, theirs["name"])
    unused = ok(await tenant.client.put(url(tenant), json={"name": fresh("Nobody's name")}))
    assert set(unused) == set(renamed)
    assert await organization(other_tenant) == theirs


async def test_a_rename_takes_no_handle_users_create_finds_organizations_by(
    tenant: Tenant, database: Database
) -> None:
    """``postroom users create --org NAME`` finds an organization by the name it was created
    under: a tenant renaming itself to a name meant for another organization (or to
    ``Default``) gets no user created later under that name, and its own users are still
    created in it under its first name."""
    first_name = (await organization(tenant))["name"]
    meant_for_others = fresh("Acme Sales")
    ok(await tenant.client.put(url(tenant), json={"name": meant_for_others}))
    async with database.transaction() as session:
        newcomer = await user_service.create_user(
            session, f"{new_id('u').lower()}@example.com", "New Hire", meant_for_others
        )
        colleague = await user_service.create_user(
            session, f"{new_id('u').lower()}@example.com", "Colin League", first_name
        )
    assert newcomer.organization_id != tenant.organization_id
    assert colleague.organization_id == tenant.organization_id
    assert (await organization(tenant))["name"] == meant_for_others


async def test_currency_and_other_lead_statuses_are_refused_together_by_name(
    tenant: Tenant,
) -> None:
    before = await organization(tenant)
    body = {"name": fresh("Acme Sales"), "currency": "EUR", "lead_statuses": [{"label": "Won"}]}
    errors = field_errors(await tenant.client.put(url(tenant), json=body))
    assert set(errors) == {"currency", "lead_statuses"}
    assert "currency" in errors["currency"]
    assert "reordered" in errors["lead_statuses"]
    assert await organization(tenant) == before


async def test_currency_null_is_refused_too(tenant: Tenant) -> None:
    response = await tenant.client.put(url(tenant), json={"currency": None})
    assert set(field_errors(response)) == {"currency"}


async def test_unknown_fields_are_ignored(tenant: Tenant) -> None:
    name = fresh("Acme Sales")
    body = {"name": name, "id": "orga_other", "memberships": [], "whatever": 1}
    renamed = ok(await tenant.client.put(url(tenant), json=body))
    assert (renamed["id"], renamed["name"]) == (tenant.organization_id, name)


async def test_the_get_object_posted_back_is_accepted(tenant: Tenant) -> None:
    before = await organization(tenant)
    assert ok(await tenant.client.put(url(tenant), json=before)) == before


async def test_any_member_may_rename(tenant: Tenant, colleague: Tenant) -> None:
    name = fresh("Renamed by Colin")
    renamed = ok(await colleague.client.put(url(tenant), json={"name": name}))
    assert renamed["name"] == name
    assert (await organization(tenant))["name"] == name


async def test_another_organization_is_the_same_404_as_a_missing_one(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    name = (await organization(other_tenant))["name"]
    for path in (url(other_tenant), "/organization/orga_doesNotExist/"):
        response = await tenant.client.put(path, json={"name": fresh("Hijacked")})
        assert response.status_code == 404
        not_found(response.json(), "Organization")
    assert (await organization(other_tenant))["name"] == name


async def test_expand_and_fields_apply_to_the_answer(tenant: Tenant) -> None:
    params = {"_expand": "memberships__user", "_fields": "name,memberships"}
    body = {"name": fresh("Acme")}
    renamed = ok(await tenant.client.put(url(tenant), params=params, json=body))
    assert set(renamed) == {"name", "memberships"}
    assert renamed["memberships"][0]["user"]["id"] == tenant.user_id


async def test_unknown_expand_is_a_field_error_and_changes_nothing(tenant: Tenant) -> None:
    before = await organization(tenant)
    params = {"_expand": "memberships__usr"}
    response = await tenant.client.put(url(tenant), params=params, json={"name": fresh("Acme")})
    assert "_expand" in field_errors(response)
    assert await organization(tenant) == before


async def test_path_without_final_slash_works(tenant: Tenant) -> None:
    path = url(tenant).rstrip("/")
    name = fresh("Acme Sales")
    assert ok(await tenant.client.put(path, json={"name": name}))["name"] == name
