"""Every way a delivery can fail ends in the right status with the right ``send_attempts``.

Transient failures (refused or dropped connections, TLS errors, 4xx replies) are retried with
capped exponential backoff until the give-up window closes; permanent ones (5xx, every
recipient refused) end in ``error`` at once; a connection lost after the message data (the
sync gap) ends in ``error`` as ``DeliveryUnknown`` and is only sent again by a PUT to outbox.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from email import message_from_string, policy
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import select

from postroom.db import Database
from postroom.dispatch.policy import RetryPolicy
from postroom.models import EmailActivity
from postroom.transports import AuthenticationFailed, DeliveryTimeout
from postroom.transports.fakes import FailingTransport
from tests.conftest import Tenant
from tests.dispatch.conftest import DeliveryHarness, eventually
from tests.helpers import create_lead, ok
from tests.smtp_server import Behaviour, SmtpServer, free_port

BOB = "bob@buyer.example.com"
CAROL = "carol@buyer.example.com"
AUDIT = "secret@audit.example.com"
FAST_RETRIES: dict[str, Any] = {
    "retry_first_delay_seconds": 0.2,
    "retry_max_delay_seconds": 0.4,
    "retry_give_up_after_seconds": 60.0,
}


async def send(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    lead = await create_lead(tenant.client)
    body = {
        "lead_id": lead["id"],
        "status": "outbox",
        "sender": '"Jane Sender" <jane@sender.example.com>',
        "to": [f"Bob Buyer <{BOB}>"],
        "cc": [CAROL],
        "bcc": [AUDIT],
        "subject": "Quarterly numbers",
        "body_text": "Hello Bob",
        **fields,
    }
    return ok(await tenant.client.post("/activity/email/", json=body))


async def read(tenant: Tenant, email_id: str) -> dict[str, Any]:
    return ok(await tenant.client.get(f"/activity/email/{email_id}/"))


async def attempts(tenant: Tenant, email_id: str) -> list[dict[str, str]]:
    found: list[dict[str, str]] = (await read(tenant, email_id))["send_attempts"]
    return found


def has_status(tenant: Tenant, email_id: str, status: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        found: str = (await read(tenant, email_id))["status"]
        return found == status

    return check


def has_attempts(tenant: Tenant, email_id: str, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(await attempts(tenant, email_id)) >= count

    return check


def classes(found: list[dict[str, str]]) -> set[str]:
    return {attempt["error_class"] for attempt in found}


def dates(found: list[dict[str, str]]) -> list[datetime]:
    return [datetime.fromisoformat(attempt["date"]) for attempt in found]


def assert_one_attempt(found: list[dict[str, str]], error_class: str, *fragments: str) -> None:
    [attempt] = found
    assert set(attempt) == {"date", "error_class", "error_message"}
    assert datetime.fromisoformat(attempt["date"]).utcoffset() == timedelta(0)
    assert attempt["error_class"] == error_class
    for fragment in fragments:
        assert fragment in attempt["error_message"]


def times_received(smtp: SmtpServer, email: dict[str, Any]) -> int:
    return smtp.message_id_counts()[email["message_ids"][0]]


# -- transient failures ------------------------------------------------------------------------


def served(smtp: SmtpServer) -> str:
    return smtp.url


def nobody_listening(_smtp: SmtpServer) -> str:
    return f"smtp://127.0.0.1:{free_port()}?timeout=5"


def implicit_tls_to_a_plain_server(smtp: SmtpServer) -> str:
    return f"smtps://127.0.0.1:{smtp.port}?timeout=5&verify=0"


@pytest.mark.parametrize(
    ("url", "behaviour", "error_class"),
    [
        pytest.param(served, Behaviour(mail_reply="451 4.3.0 later"), "TemporaryRejection",
                     id="4xx-on-mail"),
        pytest.param(served, Behaviour(rcpt_replies={BOB: "450 busy", CAROL: "451 later",
                     AUDIT: "452 full"}), "TemporaryRejection", id="4xx-on-every-rcpt"),
        pytest.param(served, Behaviour(rcpt_replies={AUDIT: "421 4.7.0 closing"}),
                     "TemporaryRejection", id="421-on-the-last-rcpt"),
        pytest.param(served, Behaviour(data_reply="451 4.3.0 later"), "TemporaryRejection",
                     id="4xx-on-data"),
        pytest.param(served, Behaviour(drop_before_data=True), "ConnectionFailed",
                     id="drop-before-data"),
        pytest.param(nobody_listening, Behaviour(), "ConnectionFailed", id="connection-refused"),
        pytest.param(implicit_tls_to_a_plain_server, Behaviour(), "ConnectionFailed",
                     id="tls-handshake-failure"),
    ],
)  # fmt: skip
async def test_transient_failure_is_retried_and_the_email_stays_in_outbox(
    harness: DeliveryHarness,
    smtp: SmtpServer,
    url: Callable[[SmtpServer], str],
    behaviour: Behaviour,
    error_class: str,
) -> None:
    smtp.behaviour = behaviour
    _app, tenant = await harness.start(url(smtp), **FAST_RETRIES)
    email = await send(tenant)
    await eventually(has_attempts(tenant, email["id"], 2))
    after = await read(tenant, email["id"])
    assert after["status"] == "outbox"
    assert classes(after["send_attempts"]) == {error_class}
    assert after["need_smtp_credentials"] is False
    assert [message for message in smtp.messages() if message.accepted] == []


async def test_4xx_is_retried_and_sent_once_the_server_recovers(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    smtp.behaviour = Behaviour(mail_reply="451 4.3.0 try again later")
    _app, tenant = await harness.start(smtp.url, **FAST_RETRIES)
    email = await send(tenant)
    await eventually(has_attempts(tenant, email["id"], 2))
    smtp.behaviour = Behaviour()
    await eventually(has_status(tenant, email["id"], "sent"))
    found = await attempts(tenant, email["id"])
    assert classes(found) == {"TemporaryRejection"}
    assert {attempt["error_message"] for attempt in found} == {"451 4.3.0 try again later"}
    assert times_received(smtp, email) == 1


async def test_drop_before_data_is_retried_and_delivered_exactly_once(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    smtp.behaviour = Behaviour(drop_before_data=True)
    _app, tenant = await harness.start(smtp.url, **FAST_RETRIES)
    email = await send(tenant)
    await eventually(has_attempts(tenant, email["id"], 1))
    smtp.behaviour = Behaviour()
    await eventually(has_status(tenant, email["id"], "sent"))
    assert classes(await attempts(tenant, email["id"])) == {"ConnectionFailed"}
    assert times_received(smtp, email) == 1
    assert len(smtp.messages()) == 1


async def test_retries_back_off_exponentially_up_to_the_maximum_delay(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    """Each failure schedules the next attempt its delay after it (0.15, 0.3, then capped at
    0.6 s), and no attempt comes before it is due. Read from the stored schedule, not from
    how late the attempts came: a stalled machine delays attempts, not the schedule."""
    smtp.behaviour = Behaviour(mail_reply="451 4.3.0 later")
    app, tenant = await harness.start(
        smtp.url, retry_first_delay_seconds=0.15, retry_max_delay_seconds=0.6
    )
    email = await send(tenant)
    scheduled = await retry_schedule(app.state.database, email["id"], failures=5)
    assert scheduled == {1: 0.15, 2: 0.3, 3: 0.6, 4: 0.6, 5: 0.6}
    await eventually(has_attempts(tenant, email["id"], 6))
    failed_at = dates(await attempts(tenant, email["id"]))[:6]
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(failed_at)]
    assert all(gap >= scheduled[failure] for failure, gap in enumerate(gaps, start=1))


async def retry_schedule(database: Database, email_id: str, failures: int) -> dict[int, float]:
    """The delay the first ``failures`` failures each put before the next attempt (its due_at
    less the failure's recorded date), by failure, watched in the email's row as it goes."""
    delays: dict[int, float] = {}
    deadline = time.monotonic() + 10.0
    while max(delays, default=0) < failures and time.monotonic() < deadline:
        async with database.reading() as session:
            row = (
                await session.execute(
                    select(EmailActivity.send_attempts, EmailActivity.due_at).where(
                        EmailActivity.id == email_id
                    )
                )
            ).one()
        if row.send_attempts and row.due_at is not None:
            last = dates(row.send_attempts)[-1]
            delays[len(row.send_attempts)] = round((row.due_at - last).total_seconds(), 3)
        await asyncio.sleep(0.01)
    return {count: delay for count, delay in delays.items() if count <= failures}


async def test_transient_failures_give_up_after_the_give_up_window(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    smtp.behaviour = Behaviour(mail_reply="451 4.3.0 later")
    policy = RetryPolicy(first_delay=0.2, max_delay=0.4, give_up_after=1.0)
    _app, tenant = await harness.start(
        smtp.url,
        retry_first_delay_seconds=policy.first_delay,
        retry_max_delay_seconds=policy.max_delay,
        retry_give_up_after_seconds=policy.give_up_after,
    )
    email = await send(tenant)
    await eventually(has_status(tenant, email["id"], "error"))
    found = await attempts(tenant, email["id"])
    assert classes(found) == {"TemporaryRejection"}
    failed_at = dates(found)
    next_due = [at + timedelta(seconds=policy.delay(n)) for n, at in enumerate(failed_at, 1)]
    failing_until = [(due - failed_at[0]).total_seconds() for due in next_due]
    assert all(until <= policy.give_up_after for until in failing_until[:-1])
    assert failing_until[-1] > policy.give_up_after
    assert smtp.messages() == []


async def test_put_to_outbox_after_giving_up_starts_a_new_retry_window(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    smtp.behaviour = Behaviour(mail_reply="451 4.3.0 later")
    _app, tenant = await harness.start(
        smtp.url,
        retry_first_delay_seconds=0.2,
        retry_max_delay_seconds=0.4,
        retry_give_up_after_seconds=0.5,
    )
    email = await send(tenant)
    await eventually(has_status(tenant, email["id"], "error"))
    assert len(await attempts(tenant, email["id"])) == 2
    ok(await tenant.client.put(f"/activity/email/{email['id']}/", json={"status": "outbox"}))
    await eventually(has_attempts(tenant, email["id"], 3))
    await eventually(has_status(tenant, email["id"], "error"))
    assert len(await attempts(tenant, email["id"])) == 4


async def test_timeout_before_data_is_retried(harness: DeliveryHarness) -> None:
    transport = FailingTransport(DeliveryTimeout("no answer to MAIL in time"))
    _app, tenant = await harness.start(transport=transport, **FAST_RETRIES)
    email = await send(tenant)
    await eventually(has_attempts(tenant, email["id"], 2))
    after = await read(tenant, email["id"])
    assert after["status"] == "outbox"
    assert classes(after["send_attempts"]) == {"DeliveryTimeout"}
    assert transport.attempts >= 2


async def test_an_unexpected_failure_before_the_data_is_retried_then_given_up(
    harness: DeliveryHarness,
) -> None:
    """Not left to lease expiry, which would claim it again every lease with nothing recorded
    and never an end."""
    transport = FailingTransport(RuntimeError("a bug in the transport"))
    give_up_soon = {**FAST_RETRIES, "retry_give_up_after_seconds": 0.5}
    _app, tenant = await harness.start(transport=transport, **give_up_soon)
    email = await send(tenant)
    await eventually(has_status(tenant, email["id"], "error"))
    found = await attempts(tenant, email["id"])
    assert classes(found) == {"UnexpectedFailure"}
    assert "RuntimeError: a bug in the transport" in found[-1]["error_message"]
    assert len(found) == transport.attempts >= 2


async def test_an_unexpected_failure_after_the_data_left_is_delivery_unknown(
    harness: DeliveryHarness,
) -> None:
    transport = FailingTransport(RuntimeError("a bug in the transport"), after_data=True)
    _app, tenant = await harness.start(transport=transport, **FAST_RETRIES)
    email = await send(tenant)
    await eventually(has_status(tenant, email["id"], "error"))
    found = await attempts(tenant, email["id"])
    assert classes(found) == {"DeliveryUnknown"}
    assert transport.attempts == 1


# -- permanent failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "fragments"),
    [
        pytest.param(Behaviour(mail_reply="550 5.1.8 bad sender"), ["550 5.1.8 bad sender"],
                     id="5xx-on-mail"),
        pytest.param(Behaviour(data_reply="554 5.7.1 spam"), ["554 5.7.1 spam"], id="5xx-on-data"),
        pytest.param(Behaviour(rcpt_replies={BOB: "550 5.1.1 no such user", CAROL: "550 no",
                     AUDIT: "553 bad"}), [f"{BOB}: 550 5.1.1 no such user", f"{AUDIT}: 553 bad"],
                     id="every-recipient-refused"),
    ],
)  # fmt: skip
async def test_permanent_failure_ends_in_error_at_once_with_one_attempt(
    harness: DeliveryHarness, smtp: SmtpServer, behaviour: Behaviour, fragments: list[str]
) -> None:
    smtp.behaviour = behaviour
    _app, tenant = await harness.start(smtp.url, **FAST_RETRIES)
    email = await send(tenant)
    await eventually(has_status(tenant, email["id"], "error"))
    await asyncio.sleep(0.3)
    after = await read(tenant, email["id"])
    assert_one_attempt(after["send_attempts"], "PermanentRejection", *fragments)
    assert after["status"] == "error"
    assert after["date_sent"] is None
    assert [message for message in smtp.messages() if message.accepted] == []


async def test_refused_recipients_are_recorded_and_the_others_get_the_message(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    smtp.behaviour = Behaviour(rcpt_replies={CAROL: "550 5.1.1 no such user"})
    _app, tenant = await harness.start(smtp.url, **FAST_RETRIES)
    email = await send(tenant)
    await eventually(has_status(tenant, email["id"], "sent"))
    [received] = smtp.messages()
    assert sorted(received.recipients) == sorted([BOB, AUDIT])
    assert received.accepted
    found = await attempts(tenant, email["id"])
    assert_one_attempt(found, "RecipientRefused", f"{CAROL}: 550 5.1.1 no such user")


async def test_a_non_ascii_cc_ends_in_error_when_the_server_lacks_smtputf8(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    """The Cc header holds the address in UTF-8 (RFC 6532): the email goes nowhere rather
    than to Bob with 8-bit headers the server never agreed to carry."""
    smtp.behaviour = Behaviour(smtputf8=False)
    _app, tenant = await harness.start(smtp.url, **FAST_RETRIES)
    email = await send(tenant, cc=["jörg@buyer.example.com"])
    await eventually(has_status(tenant, email["id"], "error"))
    found = await attempts(tenant, email["id"])
    assert_one_attempt(found, "PermanentRejection", "5.6.7", "SMTPUTF8")
    assert smtp.messages() == []


async def test_a_non_ascii_bcc_alone_is_refused_when_the_server_lacks_smtputf8(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    """A Bcc address is in no header: the others get the message, the refusal is recorded."""
    smtp.behaviour = Behaviour(smtputf8=False)
    _app, tenant = await harness.start(smtp.url, **FAST_RETRIES)
    email = await send(tenant, bcc=["jörg@buyer.example.com"])
    await eventually(has_status(tenant, email["id"], "sent"))
    [received] = smtp.messages()
    assert sorted(received.recipients) == sorted([BOB, CAROL])
    found = await attempts(tenant, email["id"])
    assert_one_attempt(found, "RecipientRefused", "jörg@buyer.example.com: 553 5.6.7")


async def test_refused_credentials_end_in_error_at_once(harness: DeliveryHarness) -> None:
    transport = FailingTransport(AuthenticationFailed("535 5.7.8 bad credentials"))
    _app, tenant = await harness.start(transport=transport, **FAST_RETRIES)
    email = await send(tenant)
    await eventually(has_status(tenant, email["id"], "error"))
    found = await attempts(tenant, email["id"])
    assert_one_attempt(found, "AuthenticationFailed", "535 5.7.8 bad credentials")
    assert transport.attempts == 1


async def test_refused_credentials_mark_the_email_as_needing_smtp_credentials(
    harness: DeliveryHarness,
) -> None:
    """Close: ``need_smtp_credentials`` is true when the email would be sent but its account
    has no usable SMTP settings; credentials the server refuses are not usable."""
    transport = FailingTransport(AuthenticationFailed("535 5.7.8 bad credentials"))
    _app, tenant = await harness.start(transport=transport, **FAST_RETRIES)
    email = await send(tenant)
    await eventually(has_status(tenant, email["id"], "error"))
    assert (await read(tenant, email["id"]))["need_smtp_credentials"] is True


# -- the sync gap ------------------------------------------------------------------------------


async def test_drop_after_data_ends_in_error_as_delivery_unknown_and_is_not_resent(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    smtp.behaviour = Behaviour(drop_after_data=True)
    _app, tenant = await harness.start(smtp.url, **FAST_RETRIES)
    email = await send(tenant)
    await eventually(has_status(tenant, email["id"], "error"))
    smtp.behaviour = Behaviour()
    await asyncio.sleep(0.5)
    assert_one_attempt(await attempts(tenant, email["id"]), "DeliveryUnknown")
    assert times_received(smtp, email) == 1


async def test_put_to_outbox_after_delivery_unknown_sends_again_on_purpose(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    smtp.behaviour = Behaviour(drop_after_data=True)
    _app, tenant = await harness.start(smtp.url, **FAST_RETRIES)
    email = await send(tenant)
    await eventually(has_status(tenant, email["id"], "error"))
    smtp.behaviour = Behaviour()
    retried = await tenant.client.put(f"/activity/email/{email['id']}/", json={"status": "outbox"})
    assert ok(retried)["status"] == "outbox"
    await eventually(has_status(tenant, email["id"], "sent"))
    assert_one_attempt(await attempts(tenant, email["id"]), "DeliveryUnknown")
    assert times_received(smtp, email) == 2


async def test_reply_slower_than_the_timeout_after_the_data_ends_as_delivery_unknown(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    smtp.behaviour = Behaviour(delay=1.0)
    _app, tenant = await harness.start(f"{smtp.url.split('?')[0]}?timeout=0.5", **FAST_RETRIES)
    email = await send(tenant)
    await eventually(has_status(tenant, email["id"], "error"))
    found = await attempts(tenant, email["id"])
    assert_one_attempt(found, "DeliveryUnknown", "no reply after the message data")


# -- no sending account ------------------------------------------------------------------------


async def test_email_without_a_sending_account_ends_in_error_needing_credentials(
    harness: DeliveryHarness,
) -> None:
    _app, tenant = await harness.start(smtp_url="")
    email = await send(tenant)
    await eventually(has_status(tenant, email["id"], "error"))
    after = await read(tenant, email["id"])
    assert after["need_smtp_credentials"] is True
    assert_one_attempt(after["send_attempts"], "NoSendingAccount", "No sending account")


# -- internationalized addresses -----------------------------------------------------------------


async def test_non_ascii_recipient_is_sent_over_smtputf8(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url, **FAST_RETRIES)
    email = await send(tenant, bcc=["jörg@audit.example.com"])
    await eventually(has_status(tenant, email["id"], "sent"))
    [received] = smtp.messages()
    assert sorted(received.recipients) == sorted([BOB, CAROL, "jörg@audit.example.com"])
    assert await attempts(tenant, email["id"]) == []


async def test_non_ascii_addresses_in_the_headers_are_sent_in_utf8_over_smtputf8(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    """RFC 6532: an address whose own part is not ASCII goes in From, To and Cc as UTF-8; the
    API accepted them, so they must not fail at sending."""
    _app, tenant = await harness.start(smtp.url, **FAST_RETRIES)
    email = await send(
        tenant,
        sender="Sällý <sällý@sender.example.com>",
        to=["Jöe <jöe@buyer.example.com>"],
        cc=["çarol@buyer.example.com"],
    )
    await eventually(has_status(tenant, email["id"], "sent"))
    [received] = smtp.messages()
    assert received.mail_from == "sällý@sender.example.com"
    message = message_from_string(received.data.decode("utf-8"), policy=policy.SMTPUTF8)
    assert [(a.display_name, a.addr_spec) for a in message["From"].addresses] == [
        ("Sällý", "sällý@sender.example.com")
    ]
    assert [a.addr_spec for a in message["To"].addresses] == ["jöe@buyer.example.com"]
    assert [a.addr_spec for a in message["Cc"].addresses] == ["çarol@buyer.example.com"]
    assert await attempts(tenant, email["id"]) == []
