"""A date near the ends of what Python's datetime holds (where converting it to UTC would
overflow) is a 400 on the field that carried it, not an error naming no field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant
from tests.helpers import create_lead, field_errors

EDGES = ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "0001-01-01", "9999-12-31"]
SCHEDULED = {"status": "scheduled", "sender": "me@example.com", "to": ["jane@acme.example.com"]}


@pytest.mark.parametrize("value", EDGES)
@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/activity/email/", "date_created__lt"),
        ("/activity/email/", "activity_at__gte"),
        ("/activity/", "date_created__gt"),
        ("/task/", "date__lt"),
        ("/event/", "date_updated__gte"),
    ],
)
async def test_a_filter_at_the_edge_of_the_calendar_names_itself(
    tenant: Tenant, path: str, name: str, value: str
) -> None:
    response = await tenant.client.get(path, params={name: value})
    assert response.status_code == 400
    assert name in field_errors(response)


@pytest.mark.parametrize("value", EDGES)
@pytest.mark.parametrize(
    ("field", "fields"),
    [
        ("date_scheduled", SCHEDULED),
        ("followup_date", {"status": "sent"}),
        ("date_created", {"status": "sent"}),
        ("activity_at", {"status": "sent"}),
    ],
)
async def test_an_email_date_at_the_edge_of_the_calendar_is_a_field_error(
    tenant: Tenant, field: str, fields: dict[str, Any], value: str
) -> None:
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], **fields, field: value}
    response = await tenant.client.post("/activity/email/", json=body)
    assert response.status_code == 400
    assert field in field_errors(response)
    listed = await tenant.client.get("/activity/email/", params={"lead_id": lead["id"]})
    assert listed.json()["data"] == []


async def test_an_imported_open_at_the_edge_of_the_calendar_is_a_field_error(
    tenant: Tenant,
) -> None:
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], "status": "sent", "opens": [{"opened_at": EDGES[0]}]}
    assert "opens" in field_errors(await tenant.client.post("/activity/email/", json=body))


async def test_a_task_date_at_the_edge_of_the_calendar_is_a_field_error(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], "text": "Call", "date": EDGES[1]}
    assert "date" in field_errors(await tenant.client.post("/task/", json=body))


async def test_ordinary_old_and_far_dates_are_kept(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], "status": "sent", "date_created": "1970-01-01T00:00:00+00:00"}
    response = await tenant.client.post("/activity/email/", json=body)
    assert response.json()["date_created"] == "1970-01-01T00:00:00.000000+00:00"
    params = {"date_created__lt": "9999-12-30"}
    assert (await tenant.client.get("/activity/email/", params=params)).status_code == 200
