"""The sender's claim costs one index seek per subscription, never a pass over the due
deliveries: a receiver that never answers may leave a backlog of thousands behind, and every
claim, for every organization, would read all of it. The deliveries in flight are read from
the partial index of the claimed ones.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from postroom.kit.datetimes import utcnow
from postroom.webhooks import repository
from tests.dispatch.conftest import DeliveryHarness
from tests.helpers import create_lead
from tests.query_plans import Sent, one_statement, postgres_plan, sqlite_plan, statements_sent
from tests.webhooks.conftest import Receiver, subscribe
from tests.webhooks.test_delivery import MANUAL

HEAD_SEEK = (
    "SEARCH webhook_deliveries_1 USING INDEX ix_webhook_deliveries_subscription_due"
    " (subscription_id=? AND status=? AND due_at<?)"
)
IN_FLIGHT = ["LIST SUBQUERY 3", "SCAN webhook_deliveries USING INDEX ix_webhook_deliveries_claimed"]
SQLITE_PLANS = {
    "heads": [
        "SCAN webhook_subscriptions",
        *IN_FLIGHT,
        "CORRELATED SCALAR SUBQUERY 1",
        HEAD_SEEK,
        "CORRELATED SCALAR SUBQUERY 2",
        HEAD_SEEK,
        "CORRELATED SCALAR SUBQUERY 1",
        HEAD_SEEK,
        "USE TEMP B-TREE FOR ORDER BY",
    ],
    "claim": [
        "SEARCH webhook_deliveries USING COVERING INDEX sqlite_autoindex_webhook_deliveries_1"
        " (id=?)"
    ],
    "next due": [
        "SEARCH webhook_subscriptions",
        "LIST SUBQUERY 2",
        "SCAN webhook_deliveries USING INDEX ix_webhook_deliveries_claimed",
        "CORRELATED SCALAR SUBQUERY 1",
        "SEARCH webhook_deliveries_1 USING INDEX ix_webhook_deliveries_subscription_due"
        " (subscription_id=? AND status=?)",
    ],
}
FRAGMENTS = {
    "heads": ("SELECT anon_1.id",),
    "claim": ("UPDATE webhook_deliveries SET claimed_by",),
    "next due": ("min(",),
}


async def claim_and_look_ahead(app: FastAPI) -> list[Sent]:
    """Statements of one round of the sender: a claim, then the next due time."""
    database = app.state.database
    now = utcnow()

    async def claim() -> None:
        async with database.transaction() as session:
            claimed = await repository.claim_due(
                session, "w", now, now + timedelta(minutes=1), 8, per_subscription=2, held=["x"]
            )
            assert len(claimed) == 2
            await repository.next_due_at(session, now, per_subscription=2, held=["x"])

    return await statements_sent(database, claim)


async def test_a_claim_seeks_the_first_due_delivery_of_each_subscription(
    webhooks: DeliveryHarness, receiver: Receiver
) -> None:
    app, tenant = await webhooks.start(**MANUAL)
    for _ in range(2):
        await subscribe(tenant.client, receiver.url)
    for _ in range(5):
        await create_lead(tenant.client)
    sent = await claim_and_look_ahead(app)
    url = webhooks.database_url
    for name, fragments in FRAGMENTS.items():
        statement = one_statement(sent, *fragments)
        if url.startswith("sqlite"):
            assert sqlite_plan(url, statement) == SQLITE_PLANS[name], name
        elif name != "claim":  # by primary key or not: PostgreSQL decides by the statistics
            plan = "\n".join(postgres_plan(url, statement))
            assert "ix_webhook_deliveries_subscription_due" in plan, name
            assert "ix_webhook_deliveries_claimed" in plan, name
            assert "ix_webhook_deliveries_due " not in plan, name
