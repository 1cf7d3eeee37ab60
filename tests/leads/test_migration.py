"""Migration ``8d4f2b6a1c37``: leads keep their addresses. Leads made before it show ``[]``,
and neither the upgrade nor the downgrade touches their contacts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command

from postroom import migrate
from postroom.kit.ids import new_id
from tests.conftest import create_tenant
from tests.databases import database_of_its_own
from tests.emails.test_sending_account import client_of, running_app
from tests.helpers import create_lead, ok

BEFORE = "5b1e7c3a9d20"


async def test_leads_from_before_keep_their_contacts_and_show_no_address(
    database_url: str, tmp_path: Path
) -> None:
    with database_of_its_own(database_url, tmp_path) as url:
        async with running_app(url, tmp_path) as app:
            tenant = await create_tenant(app, app.state.database, organization=new_id("org"))
            lead = await create_lead(tenant.client, addresses=[{"city": "Springfield"}])
            await tenant.client.aclose()
        await asyncio.to_thread(downgrade_and_upgrade, url)
        async with running_app(url, tmp_path) as app, client_of(app, tenant.api_key) as client:
            after = ok(await client.get(f"/lead/{lead['id']}/"))
    assert after["contacts"] == lead["contacts"]
    assert after["addresses"] == []


def downgrade_and_upgrade(database_url: str) -> None:
    command.downgrade(migrate.alembic_config(database_url), BEFORE)
    migrate.upgrade(database_url)
