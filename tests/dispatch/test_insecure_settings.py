"""SMTP settings that cannot be used safely end in ``error`` at once, recorded as refused
credentials are (``need_smtp_credentials``, the account's ``send_status``): a server without
the STARTTLS the settings require, and a password that would leave the machine unencrypted.
Neither is retried for a day: waiting does not change a configuration. A login the server
puts off (454) is retried like any 4xx.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.dispatch.conftest import DeliveryHarness, eventually
from tests.dispatch.test_account_health import account_of
from tests.dispatch.test_failures import (
    FAST_RETRIES,
    assert_one_attempt,
    classes,
    has_attempts,
    has_status,
    read,
    send,
)
from tests.helpers import add_sending_account
from tests.smtp_server import SmtpServer, address_off_loopback, smtp_server


async def error_at_once(tenant: Any, email_id: str) -> dict[str, Any]:
    """The email once in ``error``, and still so after a retry would have come."""
    await eventually(has_status(tenant, email_id, "error"))
    await asyncio.sleep(0.3)
    return await read(tenant, email_id)


async def test_starttls_required_from_the_default_url_ends_in_error_at_once(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(f"{smtp.url}&starttls=1", **FAST_RETRIES)
    email = await send(tenant)
    after = await error_at_once(tenant, email["id"])
    assert_one_attempt(after["send_attempts"], "InsecureConnection", "offers no STARTTLS")
    assert after["need_smtp_credentials"] is True
    assert smtp.messages() == []


async def test_starttls_required_by_an_account_ends_in_error_and_marks_the_account(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    with smtp_server() as account_server:
        app, tenant = await harness.start(smtp.url, **FAST_RETRIES)
        starttls = f"smtp://127.0.0.1:{account_server.port}?starttls=1"
        account_id = await add_sending_account(app.state.database, tenant.user_email, starttls)
        email = await send(tenant)
        after = await error_at_once(tenant, email["id"])
        account = await account_of(tenant, account_id)
    assert_one_attempt(after["send_attempts"], "InsecureConnection", "offers no STARTTLS")
    assert after["need_smtp_credentials"] is True
    assert account["send_status"] == "error"
    assert account["latest_send_error"].startswith("InsecureConnection: ")
    assert (account_server.messages(), smtp.messages()) == ([], [])


async def test_a_password_that_would_leave_unencrypted_ends_in_error_and_is_never_sent(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    address = address_off_loopback()
    if address is None:
        pytest.skip("this machine has no address off loopback")
    with smtp_server(address, auth=True) as relay:
        app, tenant = await harness.start(smtp.url, **FAST_RETRIES)
        plain = f"smtp://jane:s3cret@{address}:{relay.port}"
        await add_sending_account(app.state.database, tenant.user_email, plain)
        email = await send(tenant)
        after = await error_at_once(tenant, email["id"])
    assert_one_attempt(after["send_attempts"], "InsecureConnection", "password", address)
    assert after["need_smtp_credentials"] is True
    assert (relay.logins, relay.messages(), smtp.messages()) == ([], [], [])


async def test_a_login_the_server_puts_off_is_retried_and_then_sent(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    """RFC 4954's 454 (its password store is down, say) says nothing against the
    credentials: not ``AuthenticationFailed``, not ``need_smtp_credentials``."""
    with smtp_server(auth=True) as relay:
        relay.behaviour.auth_reply = "454 4.7.0 Temporary authentication failure"
        app, tenant = await harness.start(smtp.url, **FAST_RETRIES)
        with_login = f"smtp://jane:s3cret@127.0.0.1:{relay.port}"
        await add_sending_account(app.state.database, tenant.user_email, with_login)
        email = await send(tenant)
        await eventually(has_attempts(tenant, email["id"], 2))
        waiting = await read(tenant, email["id"])
        relay.behaviour.auth_reply = None
        await eventually(has_status(tenant, email["id"], "sent"))
    assert waiting["status"] == "outbox"
    assert waiting["need_smtp_credentials"] is False
    assert classes(waiting["send_attempts"]) == {"TemporaryRejection"}
    assert len(relay.messages()) == 1
