"""Which account sends an email: ``email_account_id``, else the user's default account, else
the organization-wide default (``POSTROOM_SMTP_URL``, ``capture://`` allowed), else none."""

from __future__ import annotations

import mailbox
from pathlib import Path
from typing import Any

from tests.conftest import Tenant
from tests.dispatch.conftest import DeliveryHarness, eventually
from tests.helpers import add_sending_account, create_lead, ok
from tests.smtp_server import SmtpServer, smtp_server


async def outbox(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    lead = await create_lead(tenant.client)
    body = {
        "lead_id": lead["id"], "status": "outbox", "sender": "me@sender.example.com",
        "to": ["you@buyer.example.com"], "subject": "Hi", "body_text": "Hello", **fields,
    }  # fmt: skip
    return ok(await tenant.client.post("/activity/email/", json=body))


async def status_of(tenant: Tenant, email_id: str) -> str:
    status: str = ok(await tenant.client.get(f"/activity/email/{email_id}/"))["status"]
    return status


async def test_users_default_account_sends_instead_of_the_organization_default(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    with smtp_server() as account_server:
        app, tenant = await harness.start(smtp.url)
        await add_sending_account(app.state.database, tenant.user_email, account_server.url)
        email = await outbox(tenant)
        await eventually(lambda: _is_sent(tenant, email["id"]))
        assert len(account_server.messages()) == 1
        assert smtp.messages() == []


async def test_email_account_id_selects_the_account(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    with smtp_server() as first, smtp_server() as second:
        app, tenant = await harness.start(smtp.url)
        await add_sending_account(app.state.database, tenant.user_email, first.url)
        chosen = await add_sending_account(app.state.database, tenant.user_email, second.url)
        email = await outbox(tenant, email_account_id=chosen)
        await eventually(lambda: _is_sent(tenant, email["id"]))
        assert len(second.messages()) == 1
        assert first.messages() == []


async def test_capture_transport_writes_each_message_into_a_maildir(
    harness: DeliveryHarness,
) -> None:
    app, tenant = await harness.start("capture://")
    email = await outbox(tenant)
    await eventually(lambda: _is_sent(tenant, email["id"]))
    folder = Path(app.state.settings.data_dir) / "mail"
    box = mailbox.Maildir(folder, create=False)
    [stored] = [box.get_message(key) for key in box.keys()]
    assert stored["Message-ID"] == email["message_ids"][0]
    assert stored["Subject"] == "Hi"


async def test_without_any_sending_account_the_email_needs_smtp_credentials(
    harness: DeliveryHarness,
) -> None:
    _app, tenant = await harness.start("")
    email = await outbox(tenant)
    await eventually(lambda: _has_status(tenant, email["id"], "error"))
    after = ok(await tenant.client.get(f"/activity/email/{email['id']}/"))
    assert after["need_smtp_credentials"] is True
    assert after["send_attempts"][-1]["error_class"] == "NoSendingAccount"


async def _is_sent(tenant: Tenant, email_id: str) -> bool:
    return await _has_status(tenant, email_id, "sent")


async def _has_status(tenant: Tenant, email_id: str, status: str) -> bool:
    return await status_of(tenant, email_id) == status
