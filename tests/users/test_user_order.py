"""``GET /user/?_order_by=``: Close's two name orders, ties by id; anything else is a 400."""

from __future__ import annotations

from postroom.db import Database
from tests.conftest import Tenant
from tests.helpers import field_errors, ok
from tests.users.test_router import add_colleague


async def names(tenant: Tenant, **params: str | int) -> list[str]:
    body = ok(await tenant.client.get("/user/", params=params))
    return [f"{user['first_name']} {user['last_name']}" for user in body["data"]]


async def add_team(database: Database, tenant: Tenant) -> None:
    """Jane Sender (the tenant) and three colleagues whose orders by first and last name
    differ; ``bob`` is lower case, and sorts as ``Bob``."""
    for name in ("Zoe Adams", "bob Young", "Anna Sender"):
        await add_colleague(database, tenant, name)


async def test_order_by_last_name_then_first_name(tenant: Tenant, database: Database) -> None:
    await add_team(database, tenant)
    assert await names(tenant, _order_by="last_name,first_name") == [
        "Zoe Adams", "Anna Sender", "Jane Sender", "bob Young",
    ]  # fmt: skip


async def test_order_by_first_name_then_last_name(tenant: Tenant, database: Database) -> None:
    await add_team(database, tenant)
    assert await names(tenant, _order_by="first_name,last_name") == [
        "Anna Sender", "bob Young", "Jane Sender", "Zoe Adams",
    ]  # fmt: skip


async def test_accented_names_sort_beside_their_letters(tenant: Tenant, database: Database) -> None:
    """``Åberg`` sorts as ``Aberg`` (before ``Sender``), not after every plain letter."""
    for name in ("Éva Zeta", "Ägir Åberg"):
        await add_colleague(database, tenant, name)
    assert await names(tenant, _order_by="last_name,first_name") == [
        "Ägir Åberg", "Jane Sender", "Éva Zeta",
    ]  # fmt: skip
    assert await names(tenant, _order_by="first_name,last_name") == [
        "Ägir Åberg", "Éva Zeta", "Jane Sender",
    ]  # fmt: skip


async def test_same_names_are_ordered_by_id(tenant: Tenant, database: Database) -> None:
    twins = [tenant.user_id]
    twins += [await add_colleague(database, tenant, "Jane Sender") for _ in range(3)]
    twins.sort()
    for order in ("last_name,first_name", "first_name,last_name"):
        body = ok(await tenant.client.get("/user/", params={"_order_by": order}))
        assert [user["id"] for user in body["data"]] == twins


async def test_pages_of_an_order_follow_each_other(tenant: Tenant, database: Database) -> None:
    await add_team(database, tenant)
    order = "last_name,first_name"
    everyone = await names(tenant, _order_by=order)
    first = ok(await tenant.client.get("/user/", params={"_order_by": order, "_limit": 3}))
    rest = ok(
        await tenant.client.get("/user/", params={"_order_by": order, "_limit": 3, "_skip": 3})
    )
    assert (first["has_more"], rest["has_more"]) == (True, False)
    shown = first["data"] + rest["data"]
    assert [f"{user['first_name']} {user['last_name']}" for user in shown] == everyone


async def test_order_keeps_to_the_callers_organization(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    body = ok(await tenant.client.get("/user/", params={"_order_by": "last_name,first_name"}))
    assert [user["id"] for user in body["data"]] == [tenant.user_id]


async def test_blank_order_is_the_default_newest_first(tenant: Tenant, database: Database) -> None:
    colleague = await add_colleague(database, tenant, "Anna Adams")
    body = ok(await tenant.client.get("/user/", params={"_order_by": " "}))
    assert [user["id"] for user in body["data"]] == [colleague, tenant.user_id]


async def test_other_orders_are_a_400_naming_order_by(tenant: Tenant) -> None:
    for order in (
        "-last_name,first_name",
        "last_name",
        "first_name",
        "last_name, first_name",
        "date_created",
        "-date_created",
        "email",
    ):
        response = await tenant.client.get("/user/", params={"_order_by": order})
        assert set(field_errors(response)) == {"_order_by"}, order
