"""A connected account's ``send_status`` and ``latest_send_error`` say how its last delivery
went: ``ok`` once its server accepted a message, ``error`` (with the failure) when the server
could not be reached or refused the credentials. A refused message or recipient says nothing
about the account (docs/decisions.md, "A connected account's send_status")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from postroom.models import EmailAccount
from tests.conftest import Tenant
from tests.dispatch.conftest import DeliveryHarness, eventually
from tests.dispatch.test_failures import FAST_RETRIES, has_attempts, has_status, send
from tests.helpers import add_sending_account, ok
from tests.smtp_server import Behaviour, SmtpServer, free_port, smtp_server


async def account_of(tenant: Tenant, account_id: str) -> dict[str, Any]:
    return ok(await tenant.client.get(f"/connected_account/{account_id}/"))


async def test_an_account_whose_server_cannot_be_reached_shows_the_error(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    app, tenant = await harness.start(smtp.url, **FAST_RETRIES)
    unreachable = f"smtp://127.0.0.1:{free_port()}"
    account_id = await add_sending_account(app.state.database, tenant.user_email, unreachable)
    assert (await account_of(tenant, account_id))["send_status"] == "ok"
    email = await send(tenant)
    await eventually(has_attempts(tenant, email["id"], 1))
    account = await account_of(tenant, account_id)
    assert account["send_status"] == "error"
    assert account["latest_send_error"].startswith("ConnectionFailed: ")
    assert smtp.messages() == []


async def test_a_delivery_through_the_account_sets_it_back_to_ok(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    with smtp_server() as account_server:
        app, tenant = await harness.start(smtp.url)
        database = app.state.database
        account_id = await add_sending_account(
            database, tenant.user_email, account_server.account_url
        )
        async with database.transaction() as session:
            await session.execute(
                update(EmailAccount)
                .where(EmailAccount.id == account_id)
                .values(send_status="error", latest_send_error="ConnectionFailed: earlier")
            )
        email = await send(tenant)
        await eventually(has_status(tenant, email["id"], "sent"))
        account = await account_of(tenant, account_id)
        assert (account["send_status"], account["latest_send_error"]) == ("ok", None)
        assert len(account_server.messages()) == 1


async def test_a_refused_message_says_nothing_about_the_account(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    with smtp_server() as account_server:
        account_server.behaviour = Behaviour(mail_reply="550 5.7.1 not from this sender")
        app, tenant = await harness.start(smtp.url)
        account_id = await add_sending_account(
            app.state.database, tenant.user_email, account_server.account_url
        )
        email = await send(tenant)
        await eventually(has_status(tenant, email["id"], "error"))
        account = await account_of(tenant, account_id)
        assert (account["send_status"], account["latest_send_error"]) == ("ok", None)


async def test_the_default_smtp_url_has_no_account_to_mark(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    """An email sent through ``POSTROOM_SMTP_URL`` touches no connected account, not even a
    colleague's."""
    app, tenant = await harness.start(smtp.url)
    email = await send(tenant)
    await eventually(has_status(tenant, email["id"], "sent"))
    assert ok(await tenant.client.get("/connected_account/"))["data"] == []
