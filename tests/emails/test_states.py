"""The email state machine (spec §2.2): allowed transitions succeed, all others are a 400."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from postroom.db import Database
from postroom.kit.datetimes import utcnow
from postroom.models import EmailActivity
from tests.conftest import Tenant
from tests.helpers import claim_as_a_worker, create_email, create_lead, field_errors, ok

FUTURE = "2031-01-01T09:00:00+00:00"
QUEUED_FIELDS: dict[str, dict[str, Any]] = {
    "scheduled": {"sender": "me@example.com", "date_scheduled": FUTURE},
    "outbox": {"sender": "me@example.com", "send_in": 30},
}


async def email_in(tenant: Tenant, status: str, **fields: Any) -> dict[str, Any]:
    lead = await create_lead(tenant.client)
    base = {"sender": "me@example.com"} if status != "draft" else {}
    return await create_email(
        tenant.client,
        lead["id"],
        status=status,
        **{**base, **QUEUED_FIELDS.get(status, {}), **fields},
    )


async def put(tenant: Tenant, email_id: str, **fields: Any) -> Any:
    return await tenant.client.put(f"/activity/email/{email_id}/", json=fields)


async def test_draft_can_be_edited(tenant: Tenant) -> None:
    draft = await email_in(tenant, "draft")
    edited = ok(await put(tenant, draft["id"], subject="New subject", to=["b@example.com"]))
    assert edited["subject"] == "New subject"
    assert edited["to"] == ["b@example.com"]
    assert edited["body_text"] == draft["body_text"]


async def test_put_behaves_as_patch(tenant: Tenant) -> None:
    draft = await email_in(tenant, "draft", cc=["c@example.com"])
    edited = ok(await put(tenant, draft["id"], subject="Only this"))
    assert edited["cc"] == ["c@example.com"]


async def test_draft_moves_to_scheduled_with_date_and_sender(tenant: Tenant) -> None:
    draft = await email_in(tenant, "draft")
    moved = ok(
        await put(
            tenant, draft["id"], status="scheduled", sender="me@example.com", date_scheduled=FUTURE
        )
    )
    assert moved["status"] == "scheduled"
    assert moved["date_scheduled"] == FUTURE.replace("+00:00", ".000000+00:00")


async def test_draft_moves_to_outbox_with_sender_and_send_in(tenant: Tenant) -> None:
    draft = await email_in(tenant, "draft", sender="me@example.com")
    moved = ok(await put(tenant, draft["id"], status="outbox", send_in=20))
    assert moved["status"] == "outbox"


@pytest.mark.parametrize("target", ["scheduled", "outbox"])
async def test_draft_without_sender_cannot_be_queued(tenant: Tenant, target: str) -> None:
    draft = await email_in(tenant, "draft")
    response = await put(tenant, draft["id"], status=target, date_scheduled=FUTURE)
    assert "sender" in field_errors(response)
    assert ok(await tenant.client.get(f"/activity/email/{draft['id']}/"))["status"] == "draft"


@pytest.mark.parametrize("status", ["scheduled", "outbox"])
async def test_an_email_to_be_sent_needs_a_recipient(tenant: Tenant, status: str) -> None:
    """An email Postroom would send with no one to send it to is refused, not "sent"."""
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], "status": status, "to": [], **QUEUED_FIELDS[status]}
    response = await tenant.client.post("/activity/email/", json=body)
    assert "to" in field_errors(response)
    listed = ok(await tenant.client.get("/activity/email/", params={"lead_id": lead["id"]}))
    assert listed["data"] == []


@pytest.mark.parametrize("target", ["scheduled", "outbox"])
async def test_draft_without_recipients_cannot_be_queued(tenant: Tenant, target: str) -> None:
    draft = await email_in(tenant, "draft", sender="me@example.com", to=[])
    response = await put(tenant, draft["id"], status=target, date_scheduled=FUTURE)
    assert "to" in field_errors(response)
    assert ok(await tenant.client.get(f"/activity/email/{draft['id']}/"))["status"] == "draft"


@pytest.mark.parametrize("recipients", [{"cc": ["c@example.com"]}, {"bcc": ["b@example.com"]}])
async def test_a_cc_or_bcc_recipient_is_enough_to_send(
    tenant: Tenant, recipients: dict[str, list[str]]
) -> None:
    draft = await email_in(tenant, "draft", sender="me@example.com", to=[], **recipients)
    assert ok(await put(tenant, draft["id"], status="outbox", send_in=30))["status"] == "outbox"


async def test_draft_to_scheduled_without_date_is_refused(tenant: Tenant) -> None:
    draft = await email_in(tenant, "draft", sender="me@example.com")
    assert "date_scheduled" in field_errors(await put(tenant, draft["id"], status="scheduled"))


@pytest.mark.parametrize("status", ["scheduled", "outbox"])
async def test_queued_email_is_cancelled_back_to_draft(tenant: Tenant, status: str) -> None:
    email = await email_in(tenant, status)
    cancelled = ok(await put(tenant, email["id"], status="draft"))
    assert cancelled["status"] == "draft"


@pytest.mark.parametrize("status", ["scheduled", "outbox"])
async def test_a_queued_email_posted_back_whole_as_a_draft_is_cancelled(
    tenant: Tenant, status: str
) -> None:
    """Clients post back the object they read: an outbox email shows its ``send_in`` and a
    queued one its ``followup_date``, which a draft may not be given. Posted back unchanged,
    with ``status: draft``, they cancel it; and the draft, posted back whole, is edited."""
    email = await email_in(tenant, status, followup_date="2031-02-01T00:00:00Z")
    cancelled = ok(await put(tenant, email["id"], **{**email, "status": "draft"}))
    assert cancelled["status"] == "draft"
    edited = ok(await put(tenant, email["id"], **{**cancelled, "subject": "Edited"}))
    assert (edited["status"], edited["subject"]) == ("draft", "Edited")
    response = await put(tenant, email["id"], send_in=(cancelled["send_in"] or 0) + 1)
    assert set(field_errors(response)) == {"send_in"}
    response = await put(tenant, email["id"], followup_date="2031-03-01T00:00:00Z")
    assert set(field_errors(response)) == {"followup_date"}


@pytest.mark.parametrize("status", ["scheduled", "outbox"])
async def test_cancel_after_claim_is_refused_and_email_stays_queued(
    tenant: Tenant, database: Database, status: str
) -> None:
    email = await email_in(tenant, status)
    await claim_as_a_worker(database, email["id"])
    assert "status" in field_errors(await put(tenant, email["id"], status="draft"))
    assert ok(await tenant.client.get(f"/activity/email/{email['id']}/"))["status"] == status


@pytest.mark.parametrize("status", ["scheduled", "outbox"])
async def test_delete_of_queued_email_cancels_it(tenant: Tenant, status: str) -> None:
    email = await email_in(tenant, status)
    assert ok(await tenant.client.delete(f"/activity/email/{email['id']}/")) == {}
    assert (await tenant.client.get(f"/activity/email/{email['id']}/")).status_code == 404


async def test_delete_after_claim_is_refused(tenant: Tenant, database: Database) -> None:
    email = await email_in(tenant, "outbox")
    await claim_as_a_worker(database, email["id"])
    assert "status" in field_errors(await tenant.client.delete(f"/activity/email/{email['id']}/"))
    assert (await tenant.client.get(f"/activity/email/{email['id']}/")).status_code == 200


@pytest.mark.parametrize("target", ["draft", "outbox"])
async def test_failed_email_can_be_fixed_and_retried(tenant: Tenant, target: str) -> None:
    failed = await email_in(tenant, "error")
    moved = ok(await put(tenant, failed["id"], status=target, subject="Fixed"))
    assert moved["status"] == target
    assert moved["subject"] == "Fixed"


FORBIDDEN = [
    ("draft", "inbox"),
    ("draft", "sent"),
    ("draft", "error"),
    ("inbox", "draft"),
    ("inbox", "sent"),
    ("sent", "draft"),
    ("sent", "outbox"),
    ("sent", "inbox"),
    ("scheduled", "outbox"),
    ("scheduled", "sent"),
    ("outbox", "scheduled"),
    ("outbox", "sent"),
    ("outbox", "error"),
    ("error", "sent"),
    ("error", "scheduled"),
]


@pytest.mark.parametrize(("current", "target"), FORBIDDEN)
async def test_other_transitions_are_refused(tenant: Tenant, current: str, target: str) -> None:
    email = await email_in(tenant, current)
    response = await put(tenant, email["id"], status=target, date_scheduled=FUTURE)
    assert "status" in field_errors(response)
    assert ok(await tenant.client.get(f"/activity/email/{email['id']}/"))["status"] == current


@pytest.mark.parametrize("status", ["draft", "inbox", "sent", "outbox"])
async def test_a_null_status_is_refused_and_changes_nothing(tenant: Tenant, status: str) -> None:
    """``status: null`` names none of the six statuses: a 400 on ``status``, not a 200 that
    silently keeps the status (and applies the rest of the body)."""
    email = await email_in(tenant, status)
    response = await put(tenant, email["id"], status=None, subject=email["subject"] or "x")
    assert "status" in field_errors(response)
    after = ok(await tenant.client.get(f"/activity/email/{email['id']}/"))
    assert (after["status"], after["subject"], after["date_updated"]) == (
        status,
        email["subject"],
        email["date_updated"],
    )


@pytest.mark.parametrize("status", ["inbox", "sent", "scheduled", "outbox"])
async def test_field_edits_of_non_drafts_are_refused(tenant: Tenant, status: str) -> None:
    email = await email_in(tenant, status)
    assert "status" in field_errors(await put(tenant, email["id"], subject="Changed"))
    after = ok(await tenant.client.get(f"/activity/email/{email['id']}/"))
    assert after["subject"] == email["subject"]


async def test_posting_back_unchanged_fields_of_a_sent_email_is_allowed(tenant: Tenant) -> None:
    sent = await email_in(tenant, "sent")
    same = ok(await put(tenant, sent["id"], **{k: sent[k] for k in ("subject", "to", "status")}))
    assert same["status"] == "sent"


@pytest.mark.parametrize("status", ["draft", "sent", "outbox"])
async def test_a_put_that_changes_nothing_changes_nothing(tenant: Tenant, status: str) -> None:
    """Posting back an email as it is (or an empty body) leaves it as it was: no new
    date_updated or updated_by, and no `updated` event for webhooks."""
    email = await email_in(tenant, status)
    for body in ({}, {"status": status}, {k: email[k] for k in ("subject", "to", "sender")}):
        same = ok(await put(tenant, email["id"], **body))
        assert (same["date_updated"], same["updated_by"]) == (
            email["date_updated"],
            email["updated_by"],
        )
    listed = ok(await tenant.client.get("/event/", params={"object_id": email["id"]}))
    assert [event["action"] for event in listed["data"]] == ["created"]


async def test_historical_opens_can_be_imported_on_a_sent_email(tenant: Tenant) -> None:
    sent = await email_in(tenant, "sent")
    opened = ok(await put(tenant, sent["id"], opens=[{"opened_at": "2026-11-26T14:03:00Z"}]))
    assert opened["opens"][0]["opened_at"] == "2026-11-26T14:03:00.000000+00:00"
    assert opened["opens_summary"] == "Opened once, last on 26 Nov 2026 14:03 UTC"


async def test_an_imported_open_shows_what_is_unknown_as_empty_strings(tenant: Tenant) -> None:
    """Close's schema makes every value of an open a string: no nulls inside ``opens``."""
    sent = await email_in(tenant, "sent")
    imported = {"opened_at": "2026-11-26T14:03:00Z", "ip_address": "192.0.2.1"}
    opened = ok(await put(tenant, sent["id"], opens=[imported]))
    shown = ok(await tenant.client.get(f"/activity/email/{sent['id']}/"))
    listed = ok(await tenant.client.get("/activity/email/", params={"id__in": sent["id"]}))
    for email in (opened, shown, listed["data"][0]):
        assert email["opens"] == [
            {
                "opened_at": "2026-11-26T14:03:00.000000+00:00",
                "opened_by": "",
                "ip_address": "192.0.2.1",
                "user_agent": "",
            }
        ]


async def test_an_email_with_opens_posted_back_as_read_changes_nothing(tenant: Tenant) -> None:
    """An open whose unknown values are shown as ``""`` reads back as the same open: posting
    the email back whole is no update (no new ``date_updated``, no ``updated`` event)."""
    sent = await email_in(tenant, "sent")
    ok(await put(tenant, sent["id"], opens=[{"opened_at": "2026-11-26T14:03:00Z"}]))
    read = ok(await tenant.client.get(f"/activity/email/{sent['id']}/"))
    same = ok(await put(tenant, sent["id"], **read))
    assert same == read
    listed = ok(await tenant.client.get("/event/", params={"object_id": sent["id"]}))
    assert [event["action"] for event in listed["data"]] == ["updated", "created"]


@pytest.mark.parametrize("lead_id", ["other", "lead_unknown", None])
async def test_an_email_does_not_move_to_another_lead(tenant: Tenant, lead_id: str | None) -> None:
    """Close's update takes no ``lead_id``; a PUT naming another lead (or none) is a 400 on
    ``lead_id`` and ``lead``, not a silent no-op, and nothing changes."""
    draft = await email_in(tenant, "draft")
    other = await create_lead(tenant.client, name="Other")
    posted = other["id"] if lead_id == "other" else lead_id
    response = await put(tenant, draft["id"], lead_id=posted, subject="Moved?")
    assert {"lead_id", "lead"} <= set(field_errors(response))
    assert ok(await tenant.client.get(f"/activity/email/{draft['id']}/")) == draft


async def test_an_email_posted_back_with_its_own_lead_id_is_edited(tenant: Tenant) -> None:
    draft = await email_in(tenant, "draft")
    edited = ok(await put(tenant, draft["id"], lead_id=draft["lead_id"], subject="Same lead"))
    assert (edited["lead_id"], edited["subject"]) == (draft["lead_id"], "Same lead")


async def test_followup_date_is_refused_on_drafts_and_inbox(tenant: Tenant) -> None:
    for status in ("draft", "inbox"):
        lead = await create_lead(tenant.client)
        response = await tenant.client.post(
            "/activity/email/",
            json={
                "lead_id": lead["id"],
                "status": status,
                "sender": "a@example.com",
                "followup_date": FUTURE,
            },
        )
        assert "followup_date" in field_errors(response)


async def test_a_scheduled_email_past_its_date_still_takes_a_followup_date(
    tenant: Tenant, database: Database
) -> None:
    """The 5-minute rule on ``date_scheduled`` applies when an email becomes scheduled. An
    email still ``scheduled`` an hour after its date (waiting for a retry) takes a new
    ``followup_date``, which Close allows on any scheduled email."""
    email = await email_in(tenant, "scheduled")
    an_hour_ago, retry_at = utcnow() - timedelta(hours=1), utcnow() + timedelta(minutes=5)
    async with database.transaction() as session:
        await session.execute(
            update(EmailActivity)
            .where(EmailActivity.id == email["id"])
            .values(scheduled_at=an_hour_ago, due_at=retry_at)
        )
    followup = "2031-02-01T09:00:00+00:00"
    for body in ({"followup_date": followup}, {"status": "scheduled", "followup_date": followup}):
        changed = ok(await put(tenant, email["id"], **body))
        assert (changed["status"], changed["followup_date"]) == (
            "scheduled",
            followup[:19] + ".000000+00:00",
        )


async def test_an_outbox_email_refuses_a_date_scheduled(tenant: Tenant) -> None:
    """An outbox email is sent once its ``send_in`` has passed: a ``date_scheduled`` with it
    would be a date it is not sent at (status ``scheduled`` is how to send at a date)."""
    lead = await create_lead(tenant.client)
    created = await tenant.client.post(
        "/activity/email/",
        json={
            "lead_id": lead["id"],
            "status": "outbox",
            "sender": "me@example.com",
            "to": ["b@example.com"],
            "send_in": 30,
            "date_scheduled": FUTURE,
        },
    )
    assert "date_scheduled" in field_errors(created)
    draft = await email_in(tenant, "draft", sender="me@example.com")
    queued = await put(tenant, draft["id"], status="outbox", date_scheduled=FUTURE)
    assert "date_scheduled" in field_errors(queued)
    assert ok(await tenant.client.get(f"/activity/email/{draft['id']}/"))["status"] == "draft"


async def test_a_cancelled_schedule_is_not_shown_once_the_email_goes_to_outbox(
    tenant: Tenant,
) -> None:
    """scheduled → draft → outbox: the email is sent now, so it no longer shows the date it
    was once scheduled at, even when the object read is posted back whole."""
    scheduled = await email_in(tenant, "scheduled")
    draft = ok(await put(tenant, scheduled["id"], status="draft"))
    assert draft["date_scheduled"] == scheduled["date_scheduled"]
    queued = ok(await put(tenant, draft["id"], **{**draft, "status": "outbox", "send_in": 30}))
    assert (queued["status"], queued["date_scheduled"]) == ("outbox", None)
    shown = ok(await tenant.client.get(f"/activity/email/{draft['id']}/"))
    assert shown["date_scheduled"] is None


async def test_a_cancelled_send_in_is_not_shown_once_the_email_is_scheduled(
    tenant: Tenant,
) -> None:
    """outbox → draft → scheduled: ``send_in`` is for outbox emails only; the one kept from
    the cancelled send is dropped, the object read posted back whole included."""
    outbox = await email_in(tenant, "outbox")
    draft = ok(await put(tenant, outbox["id"], status="draft"))
    assert draft["send_in"] == 30
    body = {**draft, "status": "scheduled", "date_scheduled": FUTURE}
    scheduled = ok(await put(tenant, draft["id"], **body))
    assert (scheduled["status"], scheduled["send_in"]) == ("scheduled", None)
    assert ok(await tenant.client.get(f"/activity/email/{draft['id']}/"))["send_in"] is None


async def test_an_outbox_email_once_scheduled_takes_a_followup_date_before_that_date(
    tenant: Tenant,
) -> None:
    """``followup_date`` is allowed on outbox emails; the date of a schedule cancelled before
    does not bound it."""
    scheduled = await email_in(tenant, "scheduled")
    ok(await put(tenant, scheduled["id"], status="draft"))
    followup = "2030-06-01T09:00:00+00:00"  # before FUTURE, the cancelled date_scheduled
    queued = ok(
        await put(tenant, scheduled["id"], status="outbox", send_in=30, followup_date=followup)
    )
    assert queued["followup_date"] == followup[:19] + ".000000+00:00"


async def test_followup_before_date_scheduled_is_refused(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    response = await tenant.client.post(
        "/activity/email/",
        json={
            "lead_id": lead["id"],
            "status": "scheduled",
            "sender": "a@example.com",
            "date_scheduled": FUTURE,
            "followup_date": "2030-12-31T00:00:00Z",
        },
    )
    assert "followup_date" in field_errors(response)


async def test_updated_by_and_date_updated_change_on_edit(tenant: Tenant) -> None:
    draft = await email_in(tenant, "draft")
    edited = ok(await put(tenant, draft["id"], subject="Again"))
    assert edited["date_updated"] > draft["date_updated"]
    assert edited["updated_by"] == tenant.user_id


async def test_lead_with_an_email_being_sent_cannot_be_deleted(
    tenant: Tenant, database: Database
) -> None:
    email = await email_in(tenant, "outbox")
    await claim_as_a_worker(database, email["id"])
    response = await tenant.client.delete(f"/lead/{email['lead_id']}/")
    assert response.status_code == 400
    assert response.json()["errors"]
    assert ok(await tenant.client.get(f"/lead/{email['lead_id']}/"))["id"] == email["lead_id"]
    assert ok(await tenant.client.get(f"/activity/email/{email['id']}/"))["status"] == "outbox"
