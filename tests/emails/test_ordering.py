"""``_order_by`` of ``/activity/`` (and ``/activity/email/``), and Close's rules tying the
order to the filters (``emails/ordering.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from postroom.db import Database
from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, field_errors, ok
from tests.query_plans import one_statement, postgres_plan, sqlite_plan, statements_sent

PATHS = ["/activity/", "/activity/email/"]


async def ids(tenant: Tenant, path: str = "/activity/", **params: Any) -> list[str]:
    page = ok(await tenant.client.get(path, params=params))
    return [email["id"] for email in page["data"]]


async def logged(tenant: Tenant, lead_id: str, created: str, happened: str) -> str:
    email = await create_email(
        tenant.client, lead_id, status="sent", date_created=created, activity_at=happened
    )
    return str(email["id"])


async def three_emails(tenant: Tenant) -> tuple[str, list[str]]:
    """A lead's emails, created in one order and sent in another: ids in creation order."""
    lead = await create_lead(tenant.client)
    first = await logged(tenant, lead["id"], "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z")
    second = await logged(tenant, lead["id"], "2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z")
    third = await logged(tenant, lead["id"], "2026-01-03T00:00:00Z", "2026-01-02T00:00:00Z")
    return lead["id"], [first, second, third]


@pytest.mark.parametrize("path", PATHS)
async def test_date_created_orders_oldest_first_and_minus_newest_first(
    tenant: Tenant, path: str
) -> None:
    _, created = await three_emails(tenant)
    assert await ids(tenant, path, _order_by="date_created") == created
    assert await ids(tenant, path, _order_by="-date_created") == created[::-1]
    assert await ids(tenant, path) == created[::-1]


@pytest.mark.parametrize("path", PATHS)
async def test_activity_at_orders_one_leads_emails_by_when_they_happened(
    tenant: Tenant, path: str
) -> None:
    lead_id, (first, second, third) = await three_emails(tenant)
    by_activity = [second, third, first]
    assert await ids(tenant, path, lead_id=lead_id, _order_by="activity_at") == by_activity
    newest = await ids(tenant, path, lead_id=lead_id, _order_by="-activity_at")
    assert newest == by_activity[::-1]


@pytest.mark.parametrize("order", ["activity_at", "-activity_at", "date_created"])
async def test_equal_times_page_stably_by_id_in_the_orders_direction(
    tenant: Tenant, order: str
) -> None:
    lead = await create_lead(tenant.client)
    same = "2026-11-01T00:00:00Z"
    for _ in range(6):
        await logged(tenant, lead["id"], same, same)
    seen: list[str] = []
    for skip in range(0, 6, 2):
        seen += await ids(tenant, lead_id=lead["id"], _order_by=order, _limit=2, _skip=skip)
    assert len(set(seen)) == 6
    assert seen == sorted(seen, reverse=order.startswith("-"))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("order", ["subject", "-id", "date_created,id", "activity_at desc"])
async def test_an_unknown_order_is_a_400_on_order_by_in_closes_format(
    tenant: Tenant, path: str, order: str
) -> None:
    lead = await create_lead(tenant.client)
    await create_email(tenant.client, lead["id"])
    response = await tenant.client.get(path, params={"_order_by": order, "lead_id": lead["id"]})
    assert set(field_errors(response)) == {"_order_by"}
    body = response.json()
    assert body["errors"] == []
    assert body["error"].startswith("_order_by: ")


async def test_an_unknown_order_is_a_400_even_when_no_email_is_asked_for(tenant: Tenant) -> None:
    response = await tenant.client.get("/activity/", params={"_order_by": "x", "_type": "Call"})
    assert set(field_errors(response)) == {"_order_by"}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("order", ["activity_at", "-activity_at"])
async def test_ordering_by_activity_at_needs_a_single_lead(
    tenant: Tenant, path: str, order: str
) -> None:
    one = await create_lead(tenant.client)
    two = await create_lead(tenant.client)
    for lead_id in (None, f"{one['id']},{two['id']}"):
        params = {"_order_by": order, **({"lead_id": lead_id} if lead_id else {})}
        response = await tenant.client.get(path, params=params)
        assert set(field_errors(response)) == {"_order_by"}


async def test_activity_at_filters_of_activity_need_the_list_ordered_by_activity_at(
    tenant: Tenant,
) -> None:
    lead_id, (first, _, third) = await three_emails(tenant)
    response = await tenant.client.get("/activity/", params={"activity_at__gte": "2026-01-02"})
    assert set(field_errors(response)) == {"activity_at__gte"}
    assert "_order_by" in response.json()["error"]
    ordered = {"lead_id": lead_id, "_order_by": "-activity_at"}
    assert await ids(tenant, activity_at__gte="2026-01-02", **ordered) == [first, third]


async def test_date_created_filters_of_activity_need_the_list_ordered_by_date_created(
    tenant: Tenant,
) -> None:
    lead_id, (_, second, third) = await three_emails(tenant)
    params = {"lead_id": lead_id, "_order_by": "activity_at", "date_created__gt": "2026-01-01"}
    response = await tenant.client.get("/activity/", params=params)
    assert set(field_errors(response)) == {"date_created__gt"}
    ascending = await ids(tenant, date_created__gt="2026-01-01", _order_by="date_created")
    assert ascending == [second, third]


async def test_the_email_list_keeps_its_activity_at_filters_in_any_order(tenant: Tenant) -> None:
    """``/activity/email/`` documents ``activity_at__*`` without Close's rule of
    ``/activity/``: they filter whatever the order."""
    lead_id, (first, _, third) = await three_emails(tenant)
    found = await ids(tenant, "/activity/email/", lead_id=lead_id, activity_at__gte="2026-01-02")
    assert found == [third, first]


async def plan_of(
    tenant: Tenant, database: Database, database_url: str, params: dict[str, str]
) -> list[str]:
    sent = await statements_sent(database, lambda: tenant.client.get("/activity/", params=params))
    statement = one_statement(sent, "FROM email_activities", "ORDER BY")
    if database_url.startswith("sqlite"):
        return sqlite_plan(database_url, statement)
    return postgres_plan(database_url, statement)


async def test_oldest_first_is_read_in_order_from_the_organizations_index(
    tenant: Tenant, database: Database, database_url: str
) -> None:
    """The ascending order reads the default's index the other way: no sort, on SQLite's
    rules; PostgreSQL (by its statistics) can answer it from an index too."""
    await three_emails(tenant)
    plan = await plan_of(tenant, database, database_url, {"_order_by": "date_created"})
    if database_url.startswith("sqlite"):
        assert plan == [
            "SEARCH email_activities USING INDEX ix_email_activities_org_created "
            "(organization_id=?)"
        ]
    else:
        assert not any("Seq Scan" in line for line in plan)


async def test_activity_at_order_sorts_only_the_leads_emails_found_by_its_index(
    tenant: Tenant, database: Database, database_url: str
) -> None:
    """Ordering by ``activity_at`` needs one lead: its emails come from the lead index and
    only they are sorted, never the organization's."""
    lead_id, _ = await three_emails(tenant)
    params = {"lead_id": lead_id, "_order_by": "-activity_at"}
    plan = await plan_of(tenant, database, database_url, params)
    if database_url.startswith("sqlite"):
        assert plan == [
            "SEARCH email_activities USING INDEX ix_email_activities_org_lead "
            "(organization_id=? AND lead_id=?)",
            "USE TEMP B-TREE FOR ORDER BY",
        ]
    else:
        assert not any("Seq Scan" in line for line in plan)
