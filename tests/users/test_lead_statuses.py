"""``lead_statuses`` of ``/organization/{id}/``: the statuses the organization's leads can be
seen with, the default first, then the labels its leads have by label; PUT takes them back
only as GET shows them (docs/decisions.md, Organizations)."""

from __future__ import annotations

from typing import Any

import pytest

from postroom.db import Database
from tests.conftest import Tenant
from tests.helpers import create_lead, field_errors, ok
from tests.leads.test_status_lookup import assert_seeks_the_status_index
from tests.query_plans import statements_sent
from tests.users.test_organization_update import fresh, organization, url

DEFAULT = "Potential"


async def statuses(tenant: Tenant) -> list[dict[str, str]]:
    shown: list[dict[str, str]] = (await organization(tenant))["lead_statuses"]
    return shown


async def labels(tenant: Tenant) -> list[str]:
    return [status["label"] for status in await statuses(tenant)]


async def set_status(tenant: Tenant, lead: dict[str, Any], label: str) -> dict[str, Any]:
    return ok(await tenant.client.put(f"/lead/{lead['id']}/", json={"status_label": label}))


async def test_an_organization_without_leads_shows_the_default_status_a_lead_gets(
    tenant: Tenant,
) -> None:
    [default] = await statuses(tenant)
    lead = await create_lead(tenant.client)
    assert default == {"id": lead["status_id"], "label": DEFAULT}
    assert lead["status_label"] == DEFAULT


async def test_the_default_comes_first_then_every_label_of_its_leads_once_by_label(
    tenant: Tenant,
) -> None:
    """By label without case or accents (``Éclair`` between ``bad fit`` and ``Qualified``),
    ties by the label itself; the default is shown once, first, whether leads have it or not."""
    for label in ("Won", "bad fit", "Qualified", "Éclair", "Bad Fit", "Won", DEFAULT):
        await create_lead(tenant.client, status_label=label)
    assert await labels(tenant) == [DEFAULT, "Bad Fit", "bad fit", "Éclair", "Qualified", "Won"]


async def test_each_id_is_the_status_id_its_leads_show(tenant: Tenant) -> None:
    leads = [await create_lead(tenant.client, status_label=label) for label in ("Won", "Lost")]
    leads.append(await create_lead(tenant.client))
    shown = {status["label"]: status["id"] for status in await statuses(tenant)}
    assert shown == {lead["status_label"]: lead["status_id"] for lead in leads}


async def test_a_status_id_read_from_the_organization_gives_a_lead_that_status(
    tenant: Tenant,
) -> None:
    await create_lead(tenant.client, status_label="Qualified")
    qualified = (await statuses(tenant))[1]
    lead = await create_lead(tenant.client, status_id=qualified["id"])
    assert (lead["status_id"], lead["status_label"]) == (qualified["id"], "Qualified")


async def test_a_label_no_lead_has_any_more_is_no_longer_shown(tenant: Tenant) -> None:
    won = await create_lead(tenant.client, status_label="Won")
    gone = await create_lead(tenant.client, status_label="Gone")
    await set_status(tenant, won, "Lost")
    ok(await tenant.client.delete(f"/lead/{gone['id']}/"))
    assert await labels(tenant) == [DEFAULT, "Lost"]


async def test_another_organizations_labels_are_never_shown(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    await create_lead(other_tenant.client, status_label="Their secret stage")
    await create_lead(tenant.client, status_label="Won")
    assert await labels(tenant) == [DEFAULT, "Won"]
    assert (await statuses(tenant))[0] != (await statuses(other_tenant))[0]


async def test_fields_lead_statuses_returns_only_them(tenant: Tenant) -> None:
    """What Close's ``CloseApiWrapper.get_lead_statuses()`` reads."""
    await create_lead(tenant.client, status_label="Won")
    params = {"_fields": "lead_statuses"}
    shown = ok(await tenant.client.get(url(tenant), params=params))
    assert shown == {"lead_statuses": await statuses(tenant)}


async def test_they_are_read_by_seeks_in_the_status_index_not_from_every_lead(
    tenant: Tenant, database: Database, database_url: str
) -> None:
    for label in ("Won", "Lost", "Won"):
        await create_lead(tenant.client, status_label=label)
    sent = await statements_sent(database, lambda: organization(tenant))
    assert_seeks_the_status_index(database_url, sent)
    assert not [sql for sql, _ in sent if "FROM leads" in sql and "WITH RECURSIVE" not in sql]


async def test_the_get_object_with_its_statuses_posted_back_changes_nothing(
    tenant: Tenant,
) -> None:
    for label in ("Won", "Lost"):
        await create_lead(tenant.client, status_label=label)
    before = await organization(tenant)
    assert len(before["lead_statuses"]) == 3
    assert ok(await tenant.client.put(url(tenant), json=before)) == before
    assert await organization(tenant) == before


async def test_a_rename_with_the_statuses_as_get_shows_them_renames(tenant: Tenant) -> None:
    await create_lead(tenant.client, status_label="Won")
    shown = await statuses(tenant)
    body = {"name": fresh("Acme Sales"), "lead_statuses": shown}
    renamed = ok(await tenant.client.put(url(tenant), json=body))
    assert (renamed["name"], renamed["lead_statuses"]) == (body["name"], shown)


def other_lists(shown: list[dict[str, str]]) -> dict[str, Any]:
    """Every way a posted ``lead_statuses`` can differ from ``shown`` (three statuses)."""
    default, lost, won = shown
    return {
        "reordered": [default, won, lost],
        "default moved": [lost, won, default],
        "one left out": [default, lost],
        "one added": [*shown, {"label": "Qualified"}],
        "one renamed": [default, lost, {"id": won["id"], "label": "Closed won"}],
        "an id changed": [default, lost, {"id": "stat_other", "label": "Won"}],
        "labels only": [{"label": status["label"]} for status in shown],
        "ids only": [{"id": status["id"]} for status in shown],
        "a field more": [default, lost, {**won, "type": "won"}],
        "one twice": [*shown, won],
        "empty": [],
        "null": None,
        "not a list": {"id": default["id"], "label": DEFAULT},
        "labels as strings": [status["label"] for status in shown],
    }


CASES = list(other_lists([{"id": "a", "label": "a"}] * 3))


@pytest.mark.parametrize("case", CASES)
async def test_any_other_lead_statuses_is_a_400_on_them_that_changes_nothing(
    tenant: Tenant, case: str
) -> None:
    """Close reorders statuses by PUT; Postroom keeps no order and no list of statuses, so
    any list but the one GET shows would be a change it does not make."""
    for label in ("Won", "Lost"):
        await create_lead(tenant.client, status_label=label)
    before = await organization(tenant)
    body = {
        "name": fresh("Acme Sales"),
        "lead_statuses": other_lists(before["lead_statuses"])[case],
    }
    errors = field_errors(await tenant.client.put(url(tenant), json=body))
    assert set(errors) == {"lead_statuses"}
    assert "reordered, added, renamed or removed" in errors["lead_statuses"]
    assert await organization(tenant) == before
