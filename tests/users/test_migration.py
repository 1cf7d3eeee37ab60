"""Migration ``6f2a8c4e1d93``: organizations are renamed apart from their handle. One made
before it shows the name it was created under and keeps it as its handle; a downgrade drops
the names given since, and the organization shows its handle again."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command

from postroom import migrate
from postroom.kit.ids import new_id
from tests.conftest import create_tenant
from tests.databases import database_of_its_own
from tests.emails.test_sending_account import client_of, running_app
from tests.helpers import ok

BEFORE = "3c9e5a7f2b14"


async def test_organizations_from_before_show_their_name_and_keep_their_data(
    database_url: str, tmp_path: Path
) -> None:
    handle = new_id("org")
    with database_of_its_own(database_url, tmp_path) as url:
        async with running_app(url, tmp_path) as app:
            tenant = await create_tenant(app, app.state.database, organization=handle)
            url_path = f"/organization/{tenant.organization_id}/"
            ok(await tenant.client.put(url_path, json={"name": "Acme Sales"}))
            await tenant.client.aclose()
        await asyncio.to_thread(command.downgrade, migrate.alembic_config(url), BEFORE)
        await asyncio.to_thread(migrate.upgrade, url)
        async with running_app(url, tmp_path) as app, client_of(app, tenant.api_key) as client:
            after = ok(await client.get(url_path))
            renamed = ok(await client.put(url_path, json={"name": "Acme Sales"}))
    assert after["name"] == handle
    assert renamed["name"] == "Acme Sales"
