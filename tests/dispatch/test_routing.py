"""Which account sends an email: ``email_account_id`` (when an email is queued without one,
its user's default account), else the organization-wide default (``POSTROOM_SMTP_URL``,
``capture://`` allowed), else none."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from postroom.models import EmailAccount
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
        account = await add_sending_account(
            app.state.database, tenant.user_email, account_server.account_url
        )
        email = await outbox(tenant)
        assert email["email_account_id"] == account
        await eventually(lambda: _is_sent(tenant, email["id"]))
        assert len(account_server.messages()) == 1
        assert smtp.messages() == []
        assert (await _sent_event(tenant, email["id"]))["email_account_id"] == account


async def test_a_draft_put_in_the_outbox_is_sent_through_the_users_default_account(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    with smtp_server() as account_server:
        app, tenant = await harness.start(smtp.url)
        account = await add_sending_account(
            app.state.database, tenant.user_email, account_server.account_url
        )
        draft = await outbox(tenant, status="draft")
        assert draft["email_account_id"] is None
        queued = await _put(tenant, draft["id"], status="outbox")
        assert queued["email_account_id"] == account
        await eventually(lambda: _is_sent(tenant, draft["id"]))
        [received] = account_server.messages()
        assert received.message_id == draft["message_ids"][0]
        assert smtp.messages() == []


async def test_without_an_account_the_default_smtp_url_sends_and_no_account_is_named(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url)
    email = await outbox(tenant)
    assert email["email_account_id"] is None
    await eventually(lambda: _is_sent(tenant, email["id"]))
    assert len(smtp.messages()) == 1
    after = ok(await tenant.client.get(f"/activity/email/{email['id']}/"))
    assert after["email_account_id"] is None


async def test_an_account_added_after_an_email_was_queued_does_not_send_it(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    """The dispatcher sends through the account the email names, and looks up no other: an
    email queued while its user had no account leaves through the default URL, as it said."""
    with smtp_server() as account_server:
        app, tenant = await harness.start(smtp.url)
        email = await outbox(tenant, send_in=2)
        await add_sending_account(app.state.database, tenant.user_email, account_server.account_url)
        await eventually(lambda: _is_sent(tenant, email["id"]))
        assert len(smtp.messages()) == 1
        assert account_server.messages() == []
        assert (await _sent_event(tenant, email["id"]))["email_account_id"] is None


async def test_an_email_whose_account_is_gone_is_not_sent_through_the_default_url(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    """As for an account named by the client: the email fails with ``NoSendingAccount``; it
    never leaves from another mailbox than the one it names."""
    with smtp_server() as account_server:
        app, tenant = await harness.start(smtp.url)
        database = app.state.database
        account = await add_sending_account(database, tenant.user_email, account_server.account_url)
        email = await outbox(tenant, send_in=2)
        assert email["email_account_id"] == account
        async with database.transaction() as session:
            await session.execute(delete(EmailAccount).where(EmailAccount.id == account))
        await eventually(lambda: _has_status(tenant, email["id"], "error"))
        after = ok(await tenant.client.get(f"/activity/email/{email['id']}/"))
        assert after["send_attempts"][-1]["error_class"] == "NoSendingAccount"
        assert after["email_account_id"] == account
        assert smtp.messages() == []
        assert account_server.messages() == []


async def test_an_account_whose_password_this_server_cannot_decrypt_fails_only_its_emails(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    """An account sealed under another secret key (a worker started without the shared
    ``POSTROOM_SECRET_KEY``, a key file lost) makes its emails ``error``, needing SMTP
    credentials; every other email due with them is still sent."""
    with smtp_server() as account_server:
        app, tenant = await harness.start(smtp.url, secret_key="another-secret")
        soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        other = await outbox(tenant, status="scheduled", date_scheduled=soon)
        with_password = f"smtp://user:password@127.0.0.1:{account_server.port}"
        await add_sending_account(app.state.database, tenant.user_email, with_password)
        email = await outbox(tenant)
        await eventually(lambda: _is_sent(tenant, other["id"]))
        await eventually(lambda: _has_status(tenant, email["id"], "error"))
        after = ok(await tenant.client.get(f"/activity/email/{email['id']}/"))
        assert after["need_smtp_credentials"] is True
        [attempt] = after["send_attempts"]
        assert attempt["error_class"] == "NoSendingAccount"
        assert "secret key" in attempt["error_message"]
        assert account_server.messages() == []
        assert len(smtp.messages()) == 1


async def test_email_account_id_selects_the_account(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    with smtp_server() as first, smtp_server() as second:
        app, tenant = await harness.start(smtp.url)
        await add_sending_account(app.state.database, tenant.user_email, first.account_url)
        chosen = await add_sending_account(
            app.state.database, tenant.user_email, second.account_url
        )
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


async def _put(tenant: Tenant, email_id: str, **fields: Any) -> dict[str, Any]:
    return ok(await tenant.client.put(f"/activity/email/{email_id}/", json=fields))


async def _sent_event(tenant: Tenant, email_id: str) -> dict[str, Any]:
    """The data of the email's ``sent`` event (written by the dispatcher)."""
    params = {"object_type": "activity.email", "object_id": email_id, "action": "sent"}
    [event] = ok(await tenant.client.get("/event/", params=params))["data"]
    data: dict[str, Any] = event["data"]
    return data
