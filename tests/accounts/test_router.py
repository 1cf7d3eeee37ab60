"""Sending accounts: listed read-only in Close's shape, passwords encrypted at rest."""

from __future__ import annotations

from sqlalchemy import select

from postroom.db import Database
from postroom.models import EmailAccount
from tests.conftest import Tenant
from tests.helpers import add_sending_account, field_errors, ok


async def test_connected_accounts_are_listed_in_closes_shape_without_password(
    tenant: Tenant, database: Database
) -> None:
    account_id = await add_sending_account(
        database, tenant.user_email, "smtp://mailer:s3cret-pw@smtp.example.com:587?starttls=1"
    )
    page = ok(await tenant.client.get("/connected_account/"))
    [account] = page["data"]
    assert account["id"] == account_id
    assert account_id.startswith("emailacct_")
    assert account["_type"] == "custom_email"
    assert account["email"] == tenant.user_email
    assert account["smtp"] == {
        "host": "smtp.example.com", "port": 587, "use_ssl": False, "use_starttls": True,
        "username": "mailer",
    }  # fmt: skip
    assert account["send_status"] == "ok"
    assert account["latest_send_error"] is None
    assert "s3cret-pw" not in str(page)
    single = ok(await tenant.client.get(f"/connected_account/{account_id}/"))
    assert single == account


async def test_smtp_password_is_encrypted_at_rest(tenant: Tenant, database: Database) -> None:
    await add_sending_account(database, tenant.user_email, "smtp://mailer:s3cret-pw@h.example.com")
    async with database.transaction() as session:
        rows = (await session.execute(select(EmailAccount))).scalars().all()
    stored = [str(value) for row in rows for value in row.__dict__.values()]
    assert not any("s3cret-pw" in value for value in stored)


async def test_another_organizations_account_is_404(
    tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    account_id = await add_sending_account(database, tenant.user_email)
    response = await other_tenant.client.get(f"/connected_account/{account_id}/")
    assert response.status_code == 404
    assert ok(await other_tenant.client.get("/connected_account/"))["data"] == []


async def test_user_id_lists_only_that_users_accounts(
    tenant: Tenant, colleague: Tenant, other_tenant: Tenant, database: Database
) -> None:
    mine = await add_sending_account(database, tenant.user_email)
    theirs = await add_sending_account(database, colleague.user_email)
    await add_sending_account(database, other_tenant.user_email)

    async def listed(**params: str) -> list[str]:
        page = ok(await tenant.client.get("/connected_account/", params=params))
        return [account["id"] for account in page["data"]]

    assert await listed() == [theirs, mine]
    assert await listed(user_id=tenant.user_id) == [mine]
    assert await listed(user_id=colleague.user_id) == [theirs]
    assert await listed(user_id=other_tenant.user_id) == []


async def test_a_user_id_too_long_to_be_one_is_a_400_on_user_id(tenant: Tenant) -> None:
    response = await tenant.client.get("/connected_account/", params={"user_id": "u" * 65})
    assert set(field_errors(response)) == {"user_id"}
    assert response.json()["error"].startswith("user_id")
