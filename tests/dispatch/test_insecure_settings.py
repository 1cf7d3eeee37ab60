"""SMTP settings that cannot be used safely end in ``error`` at once, recorded as refused
credentials are (``need_smtp_credentials``, the account's ``send_status``): a server without
the STARTTLS the settings require, and a password that would leave the machine unencrypted.
Neither is retried for a day: waiting does not change a configuration.
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
