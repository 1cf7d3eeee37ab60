"""Outbox and scheduled emails really go out over SMTP, once, with the right headers."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from postroom.dispatch import repository
from tests.conftest import Tenant
from tests.dispatch.conftest import DeliveryHarness, eventually
from tests.helpers import create_lead, ok
from tests.smtp_server import SmtpServer


async def read(tenant: Tenant, email_id: str) -> dict[str, Any]:
    return ok(await tenant.client.get(f"/activity/email/{email_id}/"))


async def send(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    lead = await create_lead(tenant.client)
    body = {
        "lead_id": lead["id"],
        "status": "outbox",
        "sender": '"Jane Sender" <jane@sender.example.com>',
        "to": ["Bob Buyer <bob@buyer.example.com>"],
        "cc": ["carol@buyer.example.com"],
        "bcc": ["secret@audit.example.com"],
        "subject": "Quarterly numbers",
        "body_text": "Hello Bob",
        "body_html": "<p>Hello <b>Bob</b></p>",
        **fields,
    }
    return ok(await tenant.client.post("/activity/email/", json=body))


async def sent(tenant: Tenant, email_id: str) -> bool:
    status: str = (await read(tenant, email_id))["status"]
    return status == "sent"


async def test_outbox_email_with_send_in_is_received_once_with_the_right_headers(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url)
    email = await send(tenant, send_in=1)
    assert email["status"] == "outbox"
    await eventually(lambda: sent(tenant, email["id"]))
    [received] = smtp.messages()
    message = received.message
    assert message["Message-ID"] == email["message_ids"][0]
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Jane Sender", "jane@sender.example.com")
    assert message["To"] == "Bob Buyer <bob@buyer.example.com>"
    assert message["Cc"] == "carol@buyer.example.com"
    assert message["Bcc"] is None
    assert message["Subject"] == "Quarterly numbers"
    assert received.mail_from == "jane@sender.example.com"
    assert sorted(received.recipients) == sorted(
        ["bob@buyer.example.com", "carol@buyer.example.com", "secret@audit.example.com"]
    )
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
    assert parts["text/plain"].strip() == "Hello Bob"
    assert parts["text/html"].startswith("<p>Hello <b>Bob</b></p><img src=")


async def test_a_recipient_listed_twice_in_other_letter_cases_gets_one_copy(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url)
    email = await send(
        tenant,
        to=["Bob Buyer <Bob@Buyer.example.com>"],
        cc=["bob@buyer.example.com", "carol@buyer.example.com"],
        bcc=["CAROL@BUYER.EXAMPLE.COM"],
    )
    await eventually(lambda: sent(tenant, email["id"]))
    [received] = smtp.messages()
    assert received.recipients == ["Bob@Buyer.example.com", "carol@buyer.example.com"]


async def test_recipients_beyond_what_the_server_takes_at_once_get_the_email_too(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    """A server that takes one recipient a transaction (452 4.5.3 to the next) gets the
    message three times, one per recipient, and no refusal is recorded."""
    smtp.behaviour.max_recipients = 1
    _app, tenant = await harness.start(smtp.url)
    email = await send(tenant)
    await eventually(lambda: sent(tenant, email["id"]))
    assert [m.recipients for m in smtp.messages()] == [
        ["bob@buyer.example.com"],
        ["carol@buyer.example.com"],
        ["secret@audit.example.com"],
    ]
    assert (await read(tenant, email["id"]))["send_attempts"] == []


async def test_sent_email_shows_date_sent_envelope_and_message_ids(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url)
    email = await send(tenant)
    await eventually(lambda: sent(tenant, email["id"]))
    after = await read(tenant, email["id"])
    assert after["date_sent"] is not None
    assert after["activity_at"] == after["date_sent"]
    assert after["message_ids"] == email["message_ids"]
    assert after["envelope"]["message_id"] == email["message_ids"][0]
    assert after["envelope"]["to"] == [{"email": "bob@buyer.example.com", "name": "Bob Buyer"}]
    assert after["send_attempts"] == []


async def test_send_in_is_honoured(harness: DeliveryHarness, smtp: SmtpServer) -> None:
    _app, tenant = await harness.start(smtp.url)
    started = time.monotonic()
    email = await send(tenant, send_in=2)
    await eventually(lambda: sent(tenant, email["id"]))
    assert time.monotonic() - started >= 1.9


async def test_outbox_without_send_in_leaves_at_once_not_at_the_next_poll(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    app, tenant = await harness.start(smtp.url)
    dispatcher = app.state.dispatcher
    dispatcher.settings = dispatcher.settings.model_copy(update={"dispatch_poll_seconds": 5.0})
    await asyncio.sleep(1.2)  # the dispatcher is now in a 5 s sleep: only a wake-up helps
    started = time.monotonic()
    email = await send(tenant)
    await eventually(lambda: sent(tenant, email["id"]), interval=0.05)
    assert time.monotonic() - started < 2.5


async def test_scheduled_email_leaves_at_date_scheduled(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url)
    due = datetime.now(UTC) + timedelta(seconds=1.5)
    email = await send(tenant, status="scheduled", date_scheduled=due.isoformat())
    await eventually(lambda: sent(tenant, email["id"]), interval=0.05)
    arrived = datetime.now(UTC)
    assert arrived >= due
    assert arrived - due < timedelta(seconds=1.0)  # the poll is 1 s: this shows the precise sleep


async def test_html_only_email_gets_a_text_part(harness: DeliveryHarness, smtp: SmtpServer) -> None:
    _app, tenant = await harness.start(smtp.url)
    email = await send(tenant, body_text=None, body_html="<p>Only <i>HTML</i></p>")
    await eventually(lambda: sent(tenant, email["id"]))
    parts = {p.get_content_type(): p.get_content() for p in smtp.messages()[0].message.iter_parts()}
    assert parts["text/plain"].strip() == "Only HTML"


async def test_the_text_part_made_from_html_keeps_where_each_link_leads(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    """A reader of the text alternative cannot follow "Pay here" without its URL."""
    _app, tenant = await harness.start(smtp.url)
    pay = '<a href="https://pay.example.com/i/7?x=1&amp;y=2">Pay here</a>'
    html = f'<p>{pay} <a href="#top">up</a></p>'
    email = await send(tenant, body_text=None, body_html=html)
    await eventually(lambda: sent(tenant, email["id"]))
    parts = {p.get_content_type(): p.get_content() for p in smtp.messages()[0].message.iter_parts()}
    assert parts["text/plain"].strip() == "Pay here <https://pay.example.com/i/7?x=1&y=2> up"


@pytest.mark.parametrize("separator", ["\f", "\v", "\x1c", "\x1d", "\x1e"])
async def test_a_form_feed_or_other_separator_does_not_shorten_a_line_of_the_message(
    harness: DeliveryHarness, smtp: SmtpServer, separator: str
) -> None:
    """Python's ``splitlines`` breaks lines at FF, VT and FS/GS/RS too, SMTP only at CRLF: a
    body measured by it went out as 7bit with a 1,201-octet line (RFC 5321 allows 1,000)."""
    _app, tenant = await harness.start(smtp.url)
    body = "a" * 600 + separator + "b" * 600
    email = await send(tenant, body_text=body, body_html=f"<p>{body}</p>")
    await eventually(lambda: sent(tenant, email["id"]))
    [received] = smtp.messages()
    assert max(len(line) for line in received.data.split(b"\r\n")) <= 998
    text, html = (part.get_content() for part in received.message.iter_parts())
    assert (text, html.startswith(f"<p>{body}</p>")) == (body, True)


async def test_non_ascii_subject_and_names_are_encoded(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url)
    email = await send(tenant, subject="Grüße aus Köln ✓", sender='"Jürgen" <j@sender.example.com>')
    await eventually(lambda: sent(tenant, email["id"]))
    received = smtp.messages()[0]
    assert all(byte < 128 for byte in received.data.split(b"\r\n\r\n", 1)[0])
    assert received.message["Subject"] == "Grüße aus Köln ✓"
    assert received.message["From"].addresses[0].display_name == "Jürgen"


async def test_an_address_at_a_domain_that_is_not_ascii_reaches_a_server_without_smtputf8(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    smtp.behaviour.smtputf8 = False
    _app, tenant = await harness.start(smtp.url)
    email = await send(tenant, to=["Bob <bob@bücher.example>"], cc=[], bcc=[])
    await eventually(lambda: sent(tenant, email["id"]))
    [received] = smtp.messages()
    assert received.recipients == ["bob@xn--bcher-kva.example"]
    assert received.message["To"] == "Bob <bob@xn--bcher-kva.example>"
    after = await read(tenant, email["id"])
    assert after["envelope"]["to"] == [{"email": "bob@bücher.example", "name": "Bob"}]


async def test_a_sender_at_a_domain_that_is_not_ascii_reaches_a_server_without_smtputf8(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    """Its Message-ID, made with the sender's domain, is ASCII too."""
    smtp.behaviour.smtputf8 = False
    _app, tenant = await harness.start(smtp.url)
    email = await send(tenant, sender="Jane <jane@bücher.example>")
    assert email["message_ids"][0].endswith("@xn--bcher-kva.example>")
    await eventually(lambda: sent(tenant, email["id"]))
    [received] = smtp.messages()
    assert received.data.isascii()
    assert received.mail_from == "jane@xn--bcher-kva.example"
    assert received.message["From"] == "Jane <jane@xn--bcher-kva.example>"


async def test_sent_html_carries_the_open_tracking_pixel(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url)
    email = await send(tenant)
    await eventually(lambda: sent(tenant, email["id"]))
    html = next(
        p.get_content() for p in smtp.messages()[0].message.iter_parts()
        if p.get_content_type() == "text/html"
    )  # fmt: skip
    assert '<img src="http://testserver/t/o/' in html
    assert '.gif" width="1" height="1"' in html


async def test_no_pixel_when_open_tracking_is_off(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url, track_opens=False)
    email = await send(tenant)
    await eventually(lambda: sent(tenant, email["id"]))
    assert b"/t/o/" not in smtp.messages()[0].data


async def test_a_reply_carries_in_reply_to_and_references_to_the_smtp_server(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url)
    first = await send(tenant, references=["<root@buyer.example.com>"])
    await eventually(lambda: sent(tenant, first["id"]))
    reply = ok(
        await tenant.client.post(
            "/activity/email/",
            json={
                "lead_id": first["lead_id"], "status": "outbox",
                "sender": "jane@sender.example.com", "to": ["bob@buyer.example.com"],
                "subject": "Re: Quarterly numbers", "body_text": "Following up",
                "in_reply_to_id": first["id"],
            },
        )
    )  # fmt: skip
    await eventually(lambda: sent(tenant, reply["id"]))
    [received] = [m for m in smtp.messages() if m.message_id == reply["message_ids"][0]]
    parent_id = first["message_ids"][0]
    assert received.message["In-Reply-To"] == parent_id
    assert received.message["References"].split() == ["<root@buyer.example.com>", parent_id]
    assert reply["references"] == ["<root@buyer.example.com>", parent_id]
    assert reply["thread_id"] == first["thread_id"]


async def test_a_failed_dispatch_round_does_not_stop_delivery(
    harness: DeliveryHarness, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database error while claiming (a pool timeout under overload, say) is logged and the
    dispatcher tries again: emails queued afterwards still go out."""
    failures: list[str] = []
    claim_due = repository.claim_due

    async def failing_once(*arguments: Any) -> Any:
        if not failures:
            failures.append("pool timeout")
            raise SQLAlchemyTimeoutError("QueuePool limit reached, connection timed out")
        return await claim_due(*arguments)

    monkeypatch.setattr(repository, "claim_due", failing_once)
    _app, tenant = await harness.start(smtp.url)
    email = await send(tenant)
    await eventually(lambda: sent(tenant, email["id"]))
    assert failures == ["pool timeout"]
    assert len(smtp.messages()) == 1


async def test_a_large_claim_is_built_as_it_goes_out_not_all_before_the_first_send(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    """With one connection, at most two messages are built ahead of the wire: the last of ten
    emails due together is built (its Date header) seconds after the first went out."""
    smtp.behaviour.delay = 0.3
    _app, tenant = await harness.start(f"{smtp.url}&connections=1")
    due = datetime.now(UTC) + timedelta(seconds=1.5)
    emails = [
        await send(tenant, status="scheduled", date_scheduled=due.isoformat()) for _ in range(10)
    ]

    async def all_sent() -> bool:
        return all([await sent(tenant, email["id"]) for email in emails])

    await eventually(all_sent, within=15.0)
    dates = sorted(parsedate_to_datetime(m.message["Date"]) for m in smtp.messages())
    assert len(dates) == 10
    assert dates[-1] - dates[0] >= timedelta(seconds=2)
