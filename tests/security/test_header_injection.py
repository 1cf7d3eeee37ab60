"""CR, LF and NUL never add a header or a recipient to a sent message (reliability point 2).

Each test posts outbox emails whose field carries a line break or a NUL followed by a header
(``Bcc: victim@…``, ``X-Injected: 1``), one email per variant. The API may refuse a value with
a 400 that names the field; the emails it accepts are sent through a real SMTP server, and the
raw bytes it received must hold no injected header line and no NUL, and the SMTP envelope no
recipient but the intended ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Tenant
from tests.dispatch.conftest import (
    DeliveryHarness,
    delivery_database_url,
    eventually,
    harness,
    smtp,
)
from tests.helpers import create_lead, ok, upload_file
from tests.smtp_server import ReceivedMessage, SmtpServer

__all__ = ["delivery_database_url", "harness", "smtp"]

VICTIM = "victim@example.com"
SENDER = "me@sender.example.com"
BUYER = "bob@buyer.example.com"
CC = "carol@buyer.example.com"
BCC = "audit@audit.example.com"
PAYLOADS = {
    "crlf-bcc": f"\r\nBcc: {VICTIM}",
    "lf-header": "\nX-Injected: 1",
    "cr-header": "\rX-Injected: 1",
    "blank-line": f"\r\n\r\nBcc: {VICTIM}",
    "nul": "\x00X-Injected: 1",
    "nul-crlf-bcc": f"\x00\r\nBcc: {VICTIM}",
}
INJECTED_LINE = re.compile(rb"^(bcc|x-injected)[ \t]*:", re.IGNORECASE | re.MULTILINE)
INJECTED_NAMES = {"bcc", "x-injected"}
EXPECTED_HEADERS = {"from", "to", "subject", "date", "message-id", "mime-version"}
FINISHED = {"sent", "error"}
POLL_SECONDS = 0.2

Make = Callable[[str], Any]


def outbox_body(lead_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "status": "outbox",
        "sender": SENDER,
        "to": [BUYER],
        "subject": "Quarterly numbers",
        "body_text": "Hello Bob",
        "body_html": "<p>Hello Bob</p>",
        **fields,
    }


def from_template(lead_id: str, template_id: str) -> dict[str, Any]:
    """An outbox email that takes its subject and body from the template."""
    body = outbox_body(lead_id, template_id=template_id)
    for name in ("subject", "body_text", "body_html"):
        del body[name]
    return body


async def status_when_done(tenant: Tenant, email_id: str) -> str:
    """The email's status once the dispatcher is done with it (``sent`` or ``error``)."""
    found: list[str] = []

    async def done() -> bool:
        found.append(ok(await tenant.client.get(f"/activity/email/{email_id}/"))["status"])
        return found[-1] in FINISHED

    await eventually(done)
    return found[-1]


def header_names(received: ReceivedMessage) -> set[str]:
    """The names of the header lines of the message and of each of its MIME parts."""
    return {name.lower() for part in received.message.walk() for name in part.keys()}


def assert_clean(received: ReceivedMessage, recipients: frozenset[str]) -> None:
    """No injected header line, no NUL, and exactly the intended envelope recipients."""
    head = received.data.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n")
    assert not INJECTED_LINE.findall(head), head.decode(errors="replace")
    assert not INJECTED_NAMES & header_names(received)
    top = {name.lower() for name in received.message.keys()}
    assert EXPECTED_HEADERS <= top, "no blank line cut the header block short"
    assert b"\x00" not in received.data, head.decode(errors="replace")
    assert set(received.recipients) == recipients


class Outbox:
    """Posts outbox emails for one tenant; ``check`` waits for the dispatcher, then inspects
    every message the SMTP server received."""

    def __init__(
        self, tenant: Tenant, smtp: SmtpServer, recipients: frozenset[str] = frozenset({BUYER})
    ) -> None:
        self.tenant = tenant
        self.smtp = smtp
        self.recipients = recipients
        self.accepted: list[str] = []

    async def post(self, body: dict[str, Any], field: str) -> None:
        """Post ``body``: refused with a 400 naming ``field``, or accepted for sending."""
        response = await self.tenant.client.post("/activity/email/", json=body)
        if response.status_code == 400:
            assert field in response.json()["field-errors"], response.text
            return
        self.accepted.append(ok(response)["id"])

    async def check(self, all_sent: bool = False) -> None:
        """Every message received is clean; with ``all_sent``, every email accepted was sent
        (an accepted email that can never go out is a failure too)."""
        statuses = [await status_when_done(self.tenant, email_id) for email_id in self.accepted]
        received = self.smtp.messages()
        assert len(received) == statuses.count("sent")
        for message in received:
            assert_clean(message, self.recipients)
        if all_sent:
            assert statuses == ["sent"] * len(statuses)


def in_display_name(address: str) -> Make:
    return lambda payload: f'"Jane{payload}" <{address}>'


def after_address(address: str) -> Make:
    return lambda payload: f"{address}{payload}"


def listed(make: Make) -> Make:
    return lambda payload: [make(payload)]


TO_ONLY = frozenset({BUYER})
FIELD_CASES: dict[str, tuple[list[Make], frozenset[str]]] = {
    "subject": ([lambda payload: f"Quarterly{payload} numbers"], TO_ONLY),
    "sender": ([after_address(SENDER), in_display_name(SENDER)], TO_ONLY),
    "to": ([listed(after_address(BUYER)), listed(in_display_name(BUYER))], TO_ONLY),
    "cc": ([listed(after_address(CC)), listed(in_display_name(CC))], frozenset({BUYER, CC})),
    "bcc": ([listed(after_address(BCC)), listed(in_display_name(BCC))], frozenset({BUYER, BCC})),
}


@pytest.mark.parametrize("field", list(FIELD_CASES))
async def test_line_breaks_and_nul_in_an_address_or_subject_add_no_header_or_recipient(
    harness: DeliveryHarness, smtp: SmtpServer, field: str
) -> None:
    """Both in the address itself and in its display name."""
    makers, recipients = FIELD_CASES[field]
    _app, tenant = await harness.start(smtp.url, dispatch_poll_seconds=POLL_SECONDS)
    lead = await create_lead(tenant.client)
    outbox = Outbox(tenant, smtp, recipients)
    for make in makers:
        for payload in PAYLOADS.values():
            await outbox.post(outbox_body(lead["id"], **{field: make(payload)}), field)
    await outbox.check()


@pytest.mark.parametrize("key", ["filename", "content_type", "content_id"])
async def test_line_breaks_and_nul_in_an_attachment_add_no_header_or_recipient(
    harness: DeliveryHarness, smtp: SmtpServer, key: str
) -> None:
    _app, tenant = await harness.start(smtp.url, dispatch_poll_seconds=POLL_SECONDS)
    item = await upload_file(tenant.client, "plain.txt", "text/plain", b"hello")
    lead = await create_lead(tenant.client)
    outbox = Outbox(tenant, smtp)
    for payload in PAYLOADS.values():
        attachment = item | {key: f"{item.get(key) or 'part'}{payload}"}
        await outbox.post(outbox_body(lead["id"], attachments=[attachment]), "attachments")
    await outbox.check()


@pytest.mark.parametrize("field", ["message_ids", "references"])
async def test_line_breaks_and_nul_in_threading_headers_add_no_header_or_recipient(
    harness: DeliveryHarness, smtp: SmtpServer, field: str
) -> None:
    _app, tenant = await harness.start(smtp.url, dispatch_poll_seconds=POLL_SECONDS)
    lead = await create_lead(tenant.client)
    outbox = Outbox(tenant, smtp)
    for number, payload in enumerate(PAYLOADS.values()):
        value = [f"<thread.{number}@sender.example.com>{payload}"]
        await outbox.post(outbox_body(lead["id"], **{field: value}), field)
    await outbox.check()


async def create_template(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = {"name": "Injection", "subject": "Hi", "body": "<p>Hi</p>", **fields}
    return ok(await tenant.client.post("/email_template/", json=body))


async def test_line_breaks_and_nul_in_lead_and_contact_fields_stay_out_of_template_headers(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url, dispatch_poll_seconds=POLL_SECONDS)
    template = await create_template(
        tenant,
        subject="Hi {{ contact.first_name }} at {{ lead.name }}: {{ lead.description }}",
        body="<p>{{ contact.name }}, {{ lead.description }}</p>",
    )
    outbox = Outbox(tenant, smtp)
    for payload in PAYLOADS.values():
        contact = {"name": f"Jane{payload} Doe", "emails": [{"email": BUYER}]}
        lead = {"name": f"Acme{payload}", "description": f"Big{payload}", "contacts": [contact]}
        created = await tenant.client.post("/lead/", json=lead)
        if created.status_code == 400:
            assert {"name", "description", "contacts"} & set(created.json()["field-errors"])
            continue
        await outbox.post(from_template(ok(created)["id"], template["id"]), "template_id")
    await outbox.check()


async def send_from_templates(outbox: Outbox, lead_id: str, sources: list[dict[str, Any]]) -> None:
    """Create one template per ``sources`` item and post an outbox email rendered from it;
    a template refused at creation must name the part it refuses."""
    for source in sources:
        body = {"name": "Injection", "subject": "Hi", "body": "Hi", **source}
        created = await outbox.tenant.client.post("/email_template/", json=body)
        if created.status_code == 400:
            assert set(source) & set(created.json()["field-errors"]), created.text
            continue
        await outbox.post(from_template(lead_id, ok(created)["id"]), "template_id")


async def test_line_breaks_a_template_subject_renders_add_no_header_or_recipient(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    """Literal line breaks in the subject source, and line breaks made by Jinja escapes."""
    _app, tenant = await harness.start(smtp.url, dispatch_poll_seconds=POLL_SECONDS)
    lead = await create_lead(tenant.client)
    outbox = Outbox(tenant, smtp)
    subjects = [
        f"Hi\r\nBcc: {VICTIM}",
        "Hi\nX-Injected: 1",
        "Hi\rX-Injected: 1",
        '{{ "Hi\\r\\nBcc: ' + VICTIM + '" }}',
        '{{ "Hi\\nX-Injected: 1" }}',
        '{{ "Hi\\rX-Injected: 1" }}',
    ]
    await send_from_templates(outbox, lead["id"], [{"subject": subject} for subject in subjects])
    await outbox.check()


async def test_a_nul_a_template_renders_never_reaches_the_message(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url, dispatch_poll_seconds=POLL_SECONDS)
    lead = await create_lead(tenant.client)
    outbox = Outbox(tenant, smtp)
    sources = [
        {"subject": '{{ "Hi\\x00X-Injected: 1" }}'},
        {"subject": '{{ "Hi\\x00\\r\\nBcc: ' + VICTIM + '" }}'},
        {"body": '<p>{{ "Hi\\x00" }}</p>'},
    ]
    await send_from_templates(outbox, lead["id"], sources)
    await outbox.check()


async def test_line_breaks_in_a_template_attachment_filename_add_no_header_or_recipient(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    _app, tenant = await harness.start(smtp.url, dispatch_poll_seconds=POLL_SECONDS)
    item = await upload_file(tenant.client, "plain.txt", "text/plain", b"hello")
    lead = await create_lead(tenant.client)
    outbox = Outbox(tenant, smtp)
    sources = [
        {"attachments": [item | {"filename": f"evil.txt{payload}"}]}
        for payload in PAYLOADS.values()
    ]
    await send_from_templates(outbox, lead["id"], sources)
    await outbox.check()


OTHER_LINE_BREAKS = {
    "vertical-tab": "\x0b",
    "form-feed": "\x0c",
    "file-separator": "\x1c",
    "next-line": "\x85",
    "line-separator": "\u2028",
    "paragraph-separator": "\u2029",
}
"""What ``str.splitlines()`` also takes for a line break, and so does the ``email`` package."""


async def test_a_subject_with_another_line_break_is_refused_or_sent_on_one_line(
    harness: DeliveryHarness, smtp: SmtpServer
) -> None:
    """Posted directly or rendered from a lead's name: a 400 on ``subject``, or sent."""
    _app, tenant = await harness.start(smtp.url, dispatch_poll_seconds=POLL_SECONDS)
    lead = await create_lead(tenant.client)
    template = await create_template(tenant, subject="Hi {{ lead.name }}")
    outbox = Outbox(tenant, smtp)
    for separator in OTHER_LINE_BREAKS.values():
        body = outbox_body(lead["id"], subject=f"Quarterly{separator}X-Injected: 1")
        await outbox.post(body, "subject")
        named = await create_lead(tenant.client, name=f"Acme{separator}X-Injected: 1")
        await outbox.post(from_template(named["id"], template["id"]), "template_id")
    await outbox.check(all_sent=True)
