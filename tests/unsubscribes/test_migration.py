"""Migration ``5b1e7c3a9d20``: contact emails that older versions stored with
``is_unsubscribed: true`` put their addresses on the new unsubscribe list."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command

from postroom import migrate
from postroom.db import sync_url
from postroom.kit.ids import new_id
from tests.conftest import Tenant, create_tenant
from tests.databases import database_of_its_own
from tests.emails.test_sending_account import client_of, running_app
from tests.helpers import create_lead, ok

BEFORE = "44096776410e"
CONTACTS = sa.table("contacts", sa.column("id", sa.String()), sa.column("emails", sa.JSON()))


async def test_the_upgrade_lists_addresses_stored_unsubscribed(
    database_url: str, tmp_path: Path
) -> None:
    with database_of_its_own(database_url, tmp_path) as url:
        async with running_app(url, tmp_path) as app:
            mine = await create_tenant(app, app.state.database, organization=new_id("org"))
            theirs = await create_tenant(app, app.state.database, organization=new_id("org"))
            mine_lead = await leads_of(mine, "Jane@Acme.example.com", "jane@acme.example.com")
            await leads_of(theirs, "jane@acme.example.com")
        await asyncio.to_thread(downgrade_flag_and_upgrade, url)
        async with running_app(url, tmp_path) as app:
            async with client_of(app, mine.api_key) as client:
                listed = ok(await client.get("/unsubscribe/email/"))["data"]
                lead = ok(await client.get(f"/lead/{mine_lead['id']}/"))
            async with client_of(app, theirs.api_key) as client:
                their_list = ok(await client.get("/unsubscribe/email/"))["data"]
    assert [(item["email"], item["created_by"]) for item in listed] == [
        ("jane@acme.example.com", None)
    ]
    assert [item["email"] for item in their_list] == ["jane@acme.example.com"]
    flags = {(e["email"], e["is_unsubscribed"]) for c in lead["contacts"] for e in c["emails"]}
    assert flags == {
        ("Jane@acme.example.com", True),
        ("jane@acme.example.com", True),
        ("bob@acme.example.com", False),
    }


async def leads_of(tenant: Tenant, *flagged: str) -> dict[str, Any]:
    """A lead with a contact per ``flagged`` address (to be flagged) and one for Bob."""
    addresses = [*flagged, "bob@acme.example.com"]
    contacts = [{"name": a, "emails": [{"email": a}]} for a in addresses]
    lead = await create_lead(tenant.client, contacts=contacts)
    await tenant.client.aclose()
    return lead


def downgrade_flag_and_upgrade(database_url: str) -> None:
    """Back to before the list, store the flags as older versions did, and up again."""
    command.downgrade(migrate.alembic_config(database_url), BEFORE)
    engine = sa.create_engine(sync_url(database_url))
    with engine.begin() as connection:
        for contact_id, emails in connection.execute(sa.select(CONTACTS)).all():
            flagged = [{**item, "is_unsubscribed": not item["email"].startswith("bob")}
                       for item in emails]  # fmt: skip
            connection.execute(
                sa.update(CONTACTS).where(CONTACTS.c.id == contact_id).values(emails=flagged)
            )
    engine.dispose()
    migrate.upgrade(database_url)
