"""Creating email activities: statuses, defaults and the response shape (spec §2.1, §2.3)."""

from __future__ import annotations

import re

from postroom.db import Database
from tests.conftest import Tenant
from tests.helpers import add_sending_account, create_email, create_lead, field_errors, ok

ALWAYS_PRESENT = [
    "id",
    "_type",
    "organization_id",
    "lead_id",
    "contact_id",
    "user_id",
    "created_by",
    "updated_by",
    "date_created",
    "date_updated",
    "activity_at",
    "date_sent",
    "date_scheduled",
    "status",
    "direction",
    "sender",
    "to",
    "cc",
    "bcc",
    "subject",
    "body_text",
    "body_html",
    "template_id",
    "thread_id",
    "in_reply_to_id",
    "message_ids",
    "references",
    "has_reply",
    "need_smtp_credentials",
    "send_as_id",
    "bulk_email_action_id",
    "followup_sequence_delay",
    "followup_sequence_add_cc_bcc",
    "opens_summary",
    "users",
]
ALSO_RETURNED = [
    "attachments",
    "body_preview",
    "created_by_name",
    "updated_by_name",
    "user_name",
    "template_name",
    "email_account_id",
    "envelope",
    "opens",
    "send_attempts",
    "followup_sequence_id",
    "sequence_id",
    "sequence_name",
    "sequence_subscription_id",
]
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


async def test_inbox_email_has_every_documented_field(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client,
        lead["id"],
        status="inbox",
        sender="jane@acme.example.com",
        to=["me@example.com"],
    )
    for name in ALWAYS_PRESENT + ALSO_RETURNED:
        assert name in email, name
    assert email["_type"] == "Email"
    assert email["direction"] == "incoming"
    for name in (
        "to",
        "cc",
        "bcc",
        "message_ids",
        "references",
        "users",
        "attachments",
        "opens",
        "send_attempts",
    ):
        assert isinstance(email[name], list), name


async def test_datetimes_have_microseconds_and_explicit_utc_offset(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client, lead["id"], status="sent", activity_at="2026-11-20T10:00:00Z"
    )
    for name in ("date_created", "date_updated", "activity_at", "date_sent"):
        assert DATETIME.match(email[name]), (name, email[name])
    assert email["activity_at"] == "2026-11-20T10:00:00.000000+00:00"


async def test_sent_email_defaults_sender_to_the_key_owner(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"], status="sent")
    assert email["sender"] == f'"Jane Sender" <{tenant.user_email}>'
    assert email["direction"] == "outgoing"
    assert email["date_sent"] is not None


async def test_a_sent_email_logged_with_its_date_sent_happened_then(tenant: Tenant) -> None:
    """Spec §2.3: ``activity_at`` is when the email happened; an outgoing email happened
    when it was sent."""
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client, lead["id"], status="sent", date_sent="2026-11-20T10:00:00Z"
    )
    assert email["date_sent"] == "2026-11-20T10:00:00.000000+00:00"
    assert email["activity_at"] == email["date_sent"]


async def test_a_posted_activity_at_stays_beside_a_posted_date_sent(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client,
        lead["id"],
        status="sent",
        date_sent="2026-11-20T10:00:00Z",
        activity_at="2026-11-20T09:59:00Z",
    )
    assert email["date_sent"] == "2026-11-20T10:00:00.000000+00:00"
    assert email["activity_at"] == "2026-11-20T09:59:00.000000+00:00"


async def test_outgoing_emails_get_a_message_id_at_creation(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    for status in ("draft", "sent"):
        email = await create_email(
            tenant.client, lead["id"], status=status, sender="me@corp.example.com"
        )
        assert len(email["message_ids"]) == 1
        assert re.match(r"^<.+@corp\.example\.com>$", email["message_ids"][0])


async def test_inbox_email_keeps_posted_message_ids(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client,
        lead["id"],
        status="inbox",
        sender="jane@acme.example.com",
        message_ids=["<abc@acme.example.com>"],
    )
    assert email["message_ids"] == ["<abc@acme.example.com>"]


async def test_posted_message_ids_are_shown_in_angle_brackets(tenant: Tenant) -> None:
    """Close shows ``message_ids`` "with angle brackets" (RFC 5322 msg-id); an imported id
    posted without them gets them, and is the same message when logged again with them."""
    lead = await create_lead(tenant.client)
    fields = {"status": "inbox", "sender": "jane@acme.example.com"}
    email = await create_email(
        tenant.client,
        lead["id"],
        **fields,
        message_ids=[" abc@acme.example.com "],
        references=["root@acme.example.com", "<mid@acme.example.com>"],
    )
    assert email["message_ids"] == ["<abc@acme.example.com>"]
    assert email["references"] == ["<root@acme.example.com>", "<mid@acme.example.com>"]
    again = await create_email(
        tenant.client, lead["id"], **fields, envelope={"message_id": "<abc@acme.example.com>"}
    )
    assert again["id"] == email["id"]


async def test_body_preview_is_the_first_200_characters_of_the_text(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"], body_text="word " * 100)
    assert len(email["body_preview"]) == 200
    html_only = await create_email(
        tenant.client, lead["id"], body_text=None, body_html="<p>Hello <b>there</b></p>"
    )
    assert html_only["body_preview"] == "Hello there"


async def test_display_name_sender_is_accepted(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client, lead["id"], status="outbox", sender='"John Smith" <john@example.com>'
    )
    assert email["sender"] == '"John Smith" <john@example.com>'


async def test_accepted_fields_are_stored_and_returned(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    contact_id = lead["contacts"][0]["id"]
    email = await create_email(
        tenant.client,
        lead["id"],
        status="scheduled",
        sender="me@example.com",
        contact_id=contact_id,
        cc=["cc@example.com"],
        bcc=["Bcc Person <bcc@example.com>"],
        date_scheduled="2031-01-01T09:00:00+01:00",
        followup_date="2031-01-05T09:00:00Z",
        followup_sequence_id="seq_1",
        followup_sequence_delay=86400,
        followup_sequence_add_cc_bcc=True,
    )
    assert email["contact_id"] == contact_id
    assert email["cc"] == ["cc@example.com"]
    assert email["bcc"] == ["Bcc Person <bcc@example.com>"]
    assert email["date_scheduled"] == "2031-01-01T08:00:00.000000+00:00"
    assert email["followup_date"] == "2031-01-05T09:00:00.000000+00:00"
    assert email["followup_sequence_delay"] == 86400
    assert email["followup_sequence_add_cc_bcc"] is True


async def test_account_id_is_accepted_as_older_name_of_email_account_id(
    tenant: Tenant, database: Database
) -> None:
    account_id = await add_sending_account(database, tenant.user_email)
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"], account_id=account_id)
    assert email["email_account_id"] == account_id


async def test_unknown_or_foreign_sending_account_is_a_field_error(
    tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    foreign = await add_sending_account(database, other_tenant.user_email)
    lead = await create_lead(tenant.client)
    for account_id in ("emailacct_missing", foreign):
        response = await tenant.client.post(
            "/activity/email/",
            json={"lead_id": lead["id"], "status": "draft", "email_account_id": account_id},
        )
        assert "email_account_id" in field_errors(response)


async def test_an_account_refused_under_its_older_name_is_reported_under_that_name(
    tenant: Tenant, colleague: Tenant, database: Database
) -> None:
    """Field errors are reported under the field name the client sent (spec §1): a bad
    ``account_id`` is a 400 on ``account_id``, which is what the client can look up."""
    theirs = await add_sending_account(database, colleague.user_email)
    lead = await create_lead(tenant.client)
    for account_id in ("emailacct_missing", theirs):
        response = await tenant.client.post(
            "/activity/email/",
            json={"lead_id": lead["id"], "status": "draft", "account_id": account_id},
        )
        assert set(field_errors(response)) == {"account_id"}


async def test_a_colleagues_sending_account_is_a_field_error(
    tenant: Tenant, colleague: Tenant, database: Database
) -> None:
    """A user sends through their own accounts only, not through a colleague's mailbox."""
    theirs = await add_sending_account(database, colleague.user_email)
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], "status": "outbox", "sender": "me@example.com"}
    response = await tenant.client.post(
        "/activity/email/", json={**body, "to": ["b@example.com"], "email_account_id": theirs}
    )
    assert "email_account_id" in field_errors(response)
    listed = ok(await tenant.client.get("/activity/email/", params={"lead_id": lead["id"]}))
    assert listed["data"] == []


async def test_an_email_of_the_accounts_user_may_use_it(
    tenant: Tenant, colleague: Tenant, database: Database
) -> None:
    theirs = await add_sending_account(database, colleague.user_email)
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client, lead["id"], user_id=colleague.user_id, email_account_id=theirs
    )
    assert email["email_account_id"] == theirs


async def test_a_draft_moved_to_a_colleague_cannot_keep_the_senders_account(
    tenant: Tenant, colleague: Tenant, database: Database
) -> None:
    mine = await add_sending_account(database, tenant.user_email)
    lead = await create_lead(tenant.client)
    draft = await create_email(tenant.client, lead["id"], email_account_id=mine)
    response = await tenant.client.put(
        f"/activity/email/{draft['id']}/", json={"user_id": colleague.user_id}
    )
    assert "email_account_id" in field_errors(response)
    after = ok(await tenant.client.get(f"/activity/email/{draft['id']}/"))
    assert after["user_id"] == tenant.user_id


async def test_unknown_and_read_only_fields_are_ignored(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client, lead["id"], id="acti_mine", has_reply=True, whatever=1, _type="Nope"
    )
    assert email["id"] != "acti_mine"
    assert email["has_reply"] is False


async def test_outbox_email_waits_in_the_database_unchanged(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client, lead["id"], status="outbox", sender="me@example.com", send_in=30
    )
    again = ok(await tenant.client.get(f"/activity/email/{email['id']}/"))
    assert again == email
    assert again["status"] == "outbox"


async def test_contact_must_belong_to_the_lead(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    other = await create_lead(tenant.client, name="Other")
    response = await tenant.client.post(
        "/activity/email/",
        json={"lead_id": lead["id"], "status": "draft", "contact_id": other["contacts"][0]["id"]},
    )
    assert "contact_id" in field_errors(response)
