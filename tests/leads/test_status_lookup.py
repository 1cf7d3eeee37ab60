"""The organization's statuses are the labels its leads have (``leads/statuses.py``): read one
index seek per label from ``ix_leads_org_status``, never a pass over every lead."""

from __future__ import annotations

from postroom.db import Database
from postroom.leads.schemas import status_id_for
from tests.conftest import Tenant
from tests.helpers import create_lead
from tests.query_plans import (
    Sent,
    one_statement,
    postgres_plan,
    sqlite_plan,
    statements_sent,
)

LABELS = ["Won", "Bad Fit", "Qualified", "Won", "bad fit"]


async def labelled_leads(tenant: Tenant) -> None:
    for label in LABELS:
        await create_lead(tenant.client, status_label=label)


async def test_a_status_id_is_found_among_every_label_the_leads_have(tenant: Tenant) -> None:
    await labelled_leads(tenant)
    for label in set(LABELS):
        status_id = status_id_for(tenant.organization_id, label)
        lead = await create_lead(tenant.client, status_id=status_id)
        assert (lead["status_label"], lead["status_id"]) == (label, status_id)


def assert_seeks_the_status_index(database_url: str, sent: list[Sent]) -> None:
    """The organization's labels were read, by seeks in ``ix_leads_org_status`` only."""
    statement = one_statement(sent, "WITH RECURSIVE labels", "FROM leads")
    if database_url.startswith("sqlite"):
        assert sqlite_plan(database_url, statement) == [
            "CO-ROUTINE labels",
            "SETUP",
            "SEARCH leads USING COVERING INDEX ix_leads_org_status (organization_id=?)",
            "RECURSIVE STEP",
            "SCAN labels",
            "CORRELATED SCALAR SUBQUERY 2",
            "SEARCH leads USING COVERING INDEX ix_leads_org_status "
            "(organization_id=? AND status_label>?)",
            "SCAN labels",
        ]
    else:
        plan = "\n".join(postgres_plan(database_url, statement))
        assert "ix_leads_org_status" in plan
        assert "ix_leads_org_created" not in plan
        assert "Seq Scan on leads" not in plan


async def test_the_labels_are_read_by_seeks_in_the_status_index(
    tenant: Tenant, database: Database, database_url: str
) -> None:
    await labelled_leads(tenant)
    body = {"status_id": status_id_for(tenant.organization_id, "Won")}
    sent = await statements_sent(database, lambda: tenant.client.post("/lead/", json=body))
    assert_seeks_the_status_index(database_url, sent)
