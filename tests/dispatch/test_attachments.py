"""Sent emails carry their attachments as MIME parts (point 9)."""

from __future__ import annotations

from tests.dispatch.conftest import DeliveryHarness, eventually
from tests.helpers import create_email, create_lead, ok, upload_file
from tests.smtp_server import SmtpServer

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_attachments_arrive_byte_for_byte(harness: DeliveryHarness, smtp: SmtpServer) -> None:
    _app, tenant = await harness.start(smtp.url)
    report = await upload_file(tenant.client, "Q3 report.pdf", "application/pdf", PDF)
    logo = await upload_file(tenant.client, "logo.png", "image/png", PNG)
    logo |= {"content_id": "logo", "inline_only": True}
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client, lead["id"], status="outbox", sender="me@sender.example.com",
        to=["b@buyer.example.com"], body_html='<p>Hi <img src="cid:logo"></p>',
        attachments=[report, logo],
    )  # fmt: skip

    async def sent() -> bool:
        found = ok(await tenant.client.get(f"/activity/email/{email['id']}/"))
        return bool(found["status"] == "sent")

    await eventually(sent)
    message = smtp.messages()[0].message
    parts = {part.get_filename(): part for part in message.walk() if part.get_filename()}
    assert parts["Q3 report.pdf"].get_content() == PDF
    assert parts["Q3 report.pdf"].get_content_type() == "application/pdf"
    assert parts["Q3 report.pdf"].get_content_disposition() == "attachment"
    assert parts["logo.png"].get_content() == PNG
    assert parts["logo.png"]["Content-ID"] == "<logo>"
    assert parts["logo.png"].get_content_disposition() == "inline"
    related = [p for p in message.walk() if p.get_content_type() == "multipart/related"]
    assert related, "inline images live next to the HTML in multipart/related"


async def test_a_filename_with_line_breaks_adds_no_header(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url)
    item = await upload_file(tenant.client, "plain.txt", "text/plain", b"hello")
    item["filename"] = "evil.txt\r\nBcc: victim@example.com"
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client, lead["id"], status="outbox", sender="me@sender.example.com",
        to=["b@buyer.example.com"], attachments=[item],
    )  # fmt: skip

    async def sent() -> bool:
        found = ok(await tenant.client.get(f"/activity/email/{email['id']}/"))
        return bool(found["status"] == "sent")

    await eventually(sent)
    received = smtp.messages()[0]
    assert b"\r\nBcc:" not in received.data
    assert received.recipients == ["b@buyer.example.com"]
