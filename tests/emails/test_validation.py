"""Bad input is a 400 in Close's format naming the offending field, and changes nothing (§2.1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, field_errors, ok


async def post_email(tenant: Tenant, lead_id: str, **fields: Any) -> dict[str, str]:
    body = {"lead_id": lead_id, "status": "draft", **fields}
    response = await tenant.client.post("/activity/email/", json=body)
    return field_errors(response)


async def email_count(tenant: Tenant) -> int:
    return len(ok(await tenant.client.get("/activity/email/"))["data"])


async def test_missing_lead_id_is_reported_under_lead_id_and_lead(tenant: Tenant) -> None:
    response = await tenant.client.post("/activity/email/", json={"status": "draft"})
    errors = field_errors(response)
    assert "lead_id" in errors
    assert "lead" in errors


async def test_unknown_lead_id_is_reported_under_lead_id_and_lead(tenant: Tenant) -> None:
    errors = await post_email(tenant, "lead_doesnotexist")
    assert set(errors) >= {"lead_id", "lead"}


async def test_bad_status_is_a_field_error(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    assert "status" in await post_email(tenant, lead["id"], status="sending")


async def test_subject_over_1000_characters_is_refused(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    assert "subject" in await post_email(tenant, lead["id"], subject="x" * 1001)
    ok_email = await create_email(tenant.client, lead["id"], subject="x" * 1000)
    assert len(ok_email["subject"]) == 1000


@pytest.mark.parametrize("subject", ["Hello\r\nBcc: victim@example.com", "Hi\nthere", "a\x00b"])
async def test_subject_with_line_breaks_is_refused(tenant: Tenant, subject: str) -> None:
    lead = await create_lead(tenant.client)
    assert "subject" in await post_email(tenant, lead["id"], subject=subject)


@pytest.mark.parametrize(
    "fields",
    [
        {"sender": '"\ud800 Bob" <bob@example.com>'},
        {"to": ['"Jane \udfff" <jane@example.com>']},
        {"envelope": {"from": [{"name": "\ud83d"}]}},
        {"subject": "Hi \ud800"},
    ],
)
async def test_text_with_a_lone_surrogate_is_a_field_error_and_stores_nothing(
    tenant: Tenant, fields: dict[str, Any]
) -> None:
    """JSON can spell a lone surrogate (``"\\ud800"``); no database can store one."""
    lead = await create_lead(tenant.client)
    body = json.dumps({"lead_id": lead["id"], "status": "draft", **fields})
    response = await tenant.client.post("/activity/email/", content=body)
    assert set(field_errors(response)) == set(fields)
    assert await email_count(tenant) == 0


@pytest.mark.parametrize("field", ["body_text", "body_html"])
async def test_body_over_one_mebibyte_of_characters_is_refused(tenant: Tenant, field: str) -> None:
    lead = await create_lead(tenant.client)
    assert field in await post_email(tenant, lead["id"], **{field: "x" * 1_048_577})


@pytest.mark.parametrize("status", ["inbox", "draft", "sent"])
async def test_a_message_id_longer_than_a_header_line_is_refused(
    tenant: Tenant, status: str
) -> None:
    """A Message-ID fits on one header line beside ``In-Reply-To: `` (985 characters): a line
    holds 998 octets at most (RFC 5322 §2.1.1)."""
    lead = await create_lead(tenant.client)
    too_long = "<" + "n" * 978 + "@e.com>"
    fields = {"status": status, "sender": "c@example.com"}
    for posted in (
        {"message_ids": [too_long]},
        {"references": [too_long]},
        {"envelope": {"message_id": too_long}},
    ):
        [field] = posted
        assert field in await post_email(tenant, lead["id"], **fields, **posted)
    assert await email_count(tenant) == 0
    longest = "<" + "n" * 977 + "@e.com>"
    email = await create_email(
        tenant.client, lead["id"], **fields, message_ids=[longest], references=[longest]
    )
    assert (email["message_ids"], email["references"]) == ([longest], [longest])


@pytest.mark.parametrize("value", ["", "<>", "<a@b>\r\nBcc: x@example.com", "a b@c", "<a<b@c>"])
async def test_a_message_id_that_is_not_one_token_is_refused(tenant: Tenant, value: str) -> None:
    """A Message-ID is one token in angle brackets (RFC 5322 §3.6.4): one with a line break
    or a space would go into a reply's In-Reply-To and References headers as it is."""
    lead = await create_lead(tenant.client)
    fields = {"status": "inbox", "sender": "c@example.com"}
    for posted in (
        {"message_ids": [value]},
        {"references": [value]},
        {"envelope": {"message_id": value or "<>"}},
    ):
        [field] = posted
        assert field in await post_email(tenant, lead["id"], **fields, **posted)
    assert await email_count(tenant) == 0


async def test_an_envelope_over_100_000_characters_is_refused(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    envelope = {"subject": "x" * 100_000}
    assert "envelope" in await post_email(tenant, lead["id"], status="sent", envelope=envelope)
    assert await email_count(tenant) == 0


@pytest.mark.parametrize("field", ["to", "cc", "bcc"])
async def test_more_than_500_recipients_are_refused(tenant: Tenant, field: str) -> None:
    lead = await create_lead(tenant.client)
    addresses = [f"r{i}@example.com" for i in range(501)]
    assert field in await post_email(tenant, lead["id"], **{field: addresses})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sender", "not an address"),
        ("sender", "a@b.com, c@d.com"),
        ("sender", "x@example.com\r\nBcc: y@example.com"),
        ("to", ["nobody"]),
        ("cc", ["two@example.com three@example.com"]),
        ("bcc", ["@example.com"]),
        ("to", "jane@example.com"),
    ],
)
async def test_malformed_addresses_are_refused(tenant: Tenant, field: str, value: Any) -> None:
    lead = await create_lead(tenant.client)
    assert field in await post_email(tenant, lead["id"], **{field: value})


async def test_address_over_1000_characters_is_refused(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    long_name = "N" * 990
    assert "to" in await post_email(tenant, lead["id"], to=[f'"{long_name}" <x@example.com>'])


async def test_followup_sequence_delay_under_a_day_is_refused(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    assert "followup_sequence_delay" in await post_email(
        tenant, lead["id"], followup_sequence_delay=86399
    )


@pytest.mark.parametrize("send_in", [-1, 60, 3600, "soon", True, False, 5.0, "5"])
async def test_send_in_outside_0_to_59_is_refused(tenant: Tenant, send_in: Any) -> None:
    lead = await create_lead(tenant.client)
    errors = await post_email(
        tenant, lead["id"], status="outbox", sender="me@example.com", send_in=send_in
    )
    assert "send_in" in errors


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("followup_sequence_delay", True),
        ("followup_sequence_delay", 86400.0),
        ("followup_sequence_delay", "86400"),
    ],
)
async def test_a_non_integer_where_an_integer_is_documented_is_a_field_error(
    tenant: Tenant, field: str, value: Any
) -> None:
    lead = await create_lead(tenant.client)
    assert field in await post_email(tenant, lead["id"], **{field: value})


async def test_a_boolean_attachment_size_is_a_field_error(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    attachment = {"url": "http://testserver/go/file/x/a.txt", "filename": "a.txt", "size": True}
    assert "attachments" in await post_email(tenant, lead["id"], attachments=[attachment])


async def test_a_refused_send_in_creates_nothing(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    errors = await post_email(
        tenant, lead["id"], status="outbox", sender="me@example.com", send_in=True
    )
    assert "send_in" in errors
    listed = ok(await tenant.client.get("/activity/email/", params={"lead_id": lead["id"]}))
    assert listed["data"] == []


async def test_send_in_on_a_non_outbox_email_is_refused(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    assert "send_in" in await post_email(tenant, lead["id"], status="draft", send_in=10)


async def test_scheduled_without_date_scheduled_is_refused(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    errors = await post_email(tenant, lead["id"], status="scheduled", sender="me@example.com")
    assert "date_scheduled" in errors


async def test_date_scheduled_more_than_5_minutes_in_the_past_is_refused(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    past = (datetime.now(UTC) - timedelta(minutes=6)).isoformat()
    errors = await post_email(
        tenant, lead["id"], status="scheduled", sender="me@example.com", date_scheduled=past
    )
    assert "date_scheduled" in errors


async def test_date_scheduled_slightly_in_the_past_is_accepted(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    recent = (datetime.now(UTC) - timedelta(minutes=4)).isoformat()
    email = await create_email(
        tenant.client,
        lead["id"],
        status="scheduled",
        sender="me@example.com",
        date_scheduled=recent,
    )
    assert email["status"] == "scheduled"


@pytest.mark.parametrize("status", ["inbox", "scheduled", "outbox", "error"])
async def test_sender_is_required_for_inbox_scheduled_outbox_and_error(
    tenant: Tenant, status: str
) -> None:
    lead = await create_lead(tenant.client)
    errors = await post_email(
        tenant, lead["id"], status=status, date_scheduled="2031-01-01T00:00:00Z"
    )
    assert "sender" in errors


@pytest.mark.parametrize("status", ["draft", "sent"])
async def test_sender_is_optional_for_draft_and_sent(tenant: Tenant, status: str) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"], status=status)
    assert email["status"] == status


@pytest.mark.parametrize("value", [4102444800, 4102444800.5, "4102444800", "20300101"])
@pytest.mark.parametrize("field", ["date_scheduled", "followup_date"])
async def test_a_number_is_not_a_date(tenant: Tenant, field: str, value: Any) -> None:
    """Dates are ISO 8601 text: lax parsing read a number as seconds since 1970 (4102444800
    is 2100-01-01), so a client's mistake scheduled an email far away instead of a 400."""
    lead = await create_lead(tenant.client)
    fields = {"status": "scheduled", "sender": "me@example.com", "date_scheduled": "2031-01-01"}
    errors = await post_email(tenant, lead["id"], **{**fields, field: value})
    assert field in errors
    assert await email_count(tenant) == 0


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "2026-11-26T25:00:00", 12.5j])
async def test_unparsable_datetimes_are_refused(tenant: Tenant, value: Any) -> None:
    lead = await create_lead(tenant.client)
    if isinstance(value, complex):
        value = str(value)
    errors = await post_email(
        tenant, lead["id"], status="scheduled", sender="me@example.com", date_scheduled=value
    )
    assert "date_scheduled" in errors


async def test_user_of_another_organization_is_a_field_error(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    lead = await create_lead(tenant.client)
    assert "user_id" in await post_email(tenant, lead["id"], user_id=other_tenant.user_id)


async def test_a_null_user_id_on_create_is_the_api_keys_user(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"], user_id=None)
    assert (email["user_id"], email["users"]) == (tenant.user_id, [tenant.user_id])


async def test_an_update_cannot_leave_an_email_without_a_user(tenant: Tenant) -> None:
    """Every email has a user (default: the API key's); ``user_id: null`` on a PUT is a 400
    on ``user_id``, not an email of no one."""
    lead = await create_lead(tenant.client)
    draft = await create_email(tenant.client, lead["id"])
    response = await tenant.client.put(f"/activity/email/{draft['id']}/", json={"user_id": None})
    assert "user_id" in field_errors(response)
    assert ok(await tenant.client.get(f"/activity/email/{draft['id']}/")) == draft


@pytest.mark.parametrize("name", ["created_by", "created_by_id"])
async def test_an_unknown_creator_is_reported_under_the_name_sent(
    tenant: Tenant, other_tenant: Tenant, name: str
) -> None:
    """``created_by`` (or Close's ``created_by_id``) must be a user of the organization; the
    field error is under the name the client sent (spec §1)."""
    lead = await create_lead(tenant.client)
    errors = await post_email(tenant, lead["id"], **{name: other_tenant.user_id})
    assert set(errors) == {name}


async def test_contact_of_another_organization_is_a_field_error(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    lead = await create_lead(tenant.client)
    foreign = await create_lead(other_tenant.client)
    errors = await post_email(tenant, lead["id"], contact_id=foreign["contacts"][0]["id"])
    assert "contact_id" in errors


async def test_lead_of_another_organization_is_a_field_error(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = await create_lead(other_tenant.client)
    assert "lead_id" in await post_email(tenant, foreign["id"])


async def test_organization_id_must_be_the_callers(tenant: Tenant, other_tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    errors = await post_email(tenant, lead["id"], organization_id=other_tenant.organization_id)
    assert "organization_id" in errors


async def test_in_reply_to_must_be_an_email_of_the_same_lead(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    other_lead = await create_lead(tenant.client, name="Other")
    parent = await create_email(tenant.client, other_lead["id"], status="sent")
    assert "in_reply_to_id" in await post_email(tenant, lead["id"], in_reply_to_id=parent["id"])


async def test_a_draft_cannot_reply_to_itself_or_to_its_own_reply(tenant: Tenant) -> None:
    """The email replied to is another email: a draft naming itself, or a reply of its own,
    would carry its own Message-ID in In-Reply-To or References. A 400, nothing changes."""
    lead = await create_lead(tenant.client)
    draft = await create_email(tenant.client, lead["id"])
    reply = await create_email(tenant.client, lead["id"], in_reply_to_id=draft["id"])
    for parent in (draft, reply):
        response = await tenant.client.put(
            f"/activity/email/{draft['id']}/", json={"in_reply_to_id": parent["id"]}
        )
        assert "in_reply_to_id" in field_errors(response)
    assert ok(await tenant.client.get(f"/activity/email/{draft['id']}/")) == draft


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"null", b""])
async def test_malformed_or_non_object_bodies_are_400(tenant: Tenant, body: bytes) -> None:
    response = await tenant.client.post(
        "/activity/email/", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    payload = response.json()
    assert payload["errors"]
    assert isinstance(payload["field-errors"], dict)
    assert isinstance(payload["error"], str)


async def test_several_bad_fields_are_reported_together(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    errors = await post_email(
        tenant, lead["id"], subject="x" * 1001, to=["bad"], followup_sequence_delay=1
    )
    assert {"subject", "to", "followup_sequence_delay"} <= set(errors)


async def test_refused_input_changes_nothing(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    before = await email_count(tenant)
    await post_email(tenant, lead["id"], status="outbox", to=["x@example.com"])
    assert await email_count(tenant) == before


async def test_x_tz_offset_applies_to_naive_date_scheduled(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    response = await tenant.client.post(
        "/activity/email/",
        json={
            "lead_id": lead["id"],
            "status": "scheduled",
            "sender": "me@example.com",
            "to": ["jane@acme.example.com"],
            "date_scheduled": "2031-06-01T10:00:00",
        },
        headers={"X-TZ-Offset": "5.5"},
    )
    assert ok(response)["date_scheduled"] == "2031-06-01T04:30:00.000000+00:00"


@pytest.mark.parametrize("offset", ["abc", "5,5", "100", "-24", "nan", "inf", "1e400"])
async def test_an_x_tz_offset_that_is_not_hours_is_a_400_and_schedules_nothing(
    tenant: Tenant, offset: str
) -> None:
    """Read as UTC, a naive ``date_scheduled`` would be sent hours early or late."""
    lead = await create_lead(tenant.client)
    body = {
        "lead_id": lead["id"], "status": "scheduled", "sender": "me@example.com",
        "to": ["jane@acme.example.com"], "date_scheduled": "2031-06-01T10:00:00",
    }  # fmt: skip
    response = await tenant.client.post(
        "/activity/email/", json=body, headers={"X-TZ-Offset": offset}
    )
    assert response.status_code == 400
    assert "X-TZ-Offset" in response.json()["error"]
    listed = ok(await tenant.client.get("/activity/email/", params={"lead_id": lead["id"]}))
    assert listed["data"] == []


@pytest.mark.parametrize("offset", ["-0.0", "5.5", "-7", " 2 ", ""])
async def test_an_x_tz_offset_in_hours_is_accepted(tenant: Tenant, offset: str) -> None:
    response = await tenant.client.get("/me/", headers={"X-TZ-Offset": offset})
    assert response.status_code == 200


async def test_naive_and_plain_date_values_are_utc_without_offset_header(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client,
        lead["id"],
        status="scheduled",
        sender="me@example.com",
        date_scheduled="2031-06-01",
    )
    assert email["date_scheduled"] == "2031-06-01T00:00:00.000000+00:00"
