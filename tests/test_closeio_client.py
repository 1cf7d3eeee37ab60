"""The official ``closeio`` client against a real Postroom server over TCP (spec §1, §4).

One server per backend (a subprocess of ``postroom serve``), driven by ``closeio_api.Client``
exactly as Close's own scripts drive api.close.com: synchronous requests, ``X-TZ-Offset`` on
every call, paths without their final slash, ``_skip += len(data)`` paging without ``_limit``.
"""

from __future__ import annotations

import mailbox
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import closeio_api
import pytest
import requests

from tests.databases import database_of_its_own
from tests.live import LiveServer, live_server

INBOX_SENDER = '"Jane Doe" <jane@acme.example.com>'
USER_ADDRESS = "sales@postroom.example.com"
EMAILS_FOR_TWO_PAGES = 105


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real ``postroom serve`` with its dispatcher, on a database of its own (on the shared
    one it would first send every email the other tests left queued)."""
    folder = tmp_path_factory.mktemp("live")
    with database_of_its_own(database_url, folder) as url, live_server(url, folder) as running:
        yield running


def connect(server: LiveServer, tz_offset: str | None = None) -> Any:
    """A ``closeio_api.Client`` pointed at ``server`` (the package is untyped: ``Any``)."""
    client = closeio_api.Client(server.api_key, tz_offset=tz_offset)
    client.base_url = server.base_url
    return client


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[Any]:
    api = connect(server)
    yield api
    api.session.close()


@pytest.fixture
def lead(client: Any) -> dict[str, Any]:
    created: dict[str, Any] = client.post(
        "lead",
        {
            "name": "Acme Corp",
            "contacts": [
                {
                    "name": "Jane Doe",
                    "emails": [{"email": "jane@acme.example.com", "type": "office"}],
                }
            ],
        },
    )
    return created


def log_email(client: Any, lead_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "lead_id": lead_id,
        "status": "inbox",
        "sender": INBOX_SENDER,
        "to": [USER_ADDRESS],
        "subject": "Question about pricing",
        "body_text": "Hi, how much is it?",
        **fields,
    }
    email: dict[str, Any] = client.post("activity/email", body)
    return email


def test_lead_is_created_with_its_nested_contact_and_email(lead: dict[str, Any]) -> None:
    assert lead["id"].startswith("lead_")
    assert lead["name"] == "Acme Corp"
    [contact] = lead["contacts"]
    assert contact["id"].startswith("cont_")
    assert contact["lead_id"] == lead["id"]
    assert [e["email"] for e in contact["emails"]] == ["jane@acme.example.com"]


def test_inbox_email_is_logged_and_read_back(client: Any, lead: dict[str, Any]) -> None:
    logged = log_email(client, lead["id"])
    fetched = client.get(f"activity/email/{logged['id']}")
    assert logged["id"].startswith("acti_")
    assert (fetched["status"], fetched["direction"]) == ("inbox", "incoming")
    assert fetched["sender"] == INBOX_SENDER
    assert fetched["to"] == [USER_ADDRESS]
    assert fetched["subject"] == "Question about pricing"
    assert fetched["body_text"] == "Hi, how much is it?"
    assert fetched["lead_id"] == lead["id"]


def test_draft_edited_with_put_reads_back_the_edit(client: Any, lead: dict[str, Any]) -> None:
    draft = log_email(client, lead["id"], status="draft", sender=None, subject="First try")
    client.put(
        f"activity/email/{draft['id']}",
        {"subject": "Second try", "body_text": "Better words", "cc": ["boss@acme.example.com"]},
    )
    fetched = client.get(f"activity/email/{draft['id']}")
    assert fetched["status"] == "draft"
    assert (fetched["subject"], fetched["body_text"]) == ("Second try", "Better words")
    assert fetched["cc"] == ["boss@acme.example.com"]
    assert fetched["to"] == [USER_ADDRESS]


def page_ids_like_close_scripts(client: Any, params: dict[str, Any]) -> tuple[list[str], int]:
    """Every id of a list, paged with ``_skip += len(data)`` and no ``_limit``; and the pages."""
    ids: list[str] = []
    pages = 0
    has_more = True
    while has_more:
        page = client.get("activity/email", params={**params, "_skip": len(ids)})
        ids += [email["id"] for email in page["data"]]
        has_more = page["has_more"]
        pages += 1
    return ids, pages


def test_paging_with_skip_sees_every_email_exactly_once(client: Any, lead: dict[str, Any]) -> None:
    statuses = ("sent", "inbox")
    created = [
        log_email(client, lead["id"], status=statuses[n % 2], subject=f"Email {n}")["id"]
        for n in range(EMAILS_FOR_TWO_PAGES)
    ]
    seen, pages = page_ids_like_close_scripts(client, {"lead_id": lead["id"]})
    assert pages == 2
    assert sorted(seen) == sorted(created)


def test_over_long_subject_raises_validation_error_naming_subject(
    client: Any, lead: dict[str, Any]
) -> None:
    with pytest.raises(closeio_api.ValidationError) as raised:
        log_email(client, lead["id"], subject="x" * 1001)
    assert "subject" in raised.value.field_errors
    assert isinstance(raised.value.errors, list)


def test_unknown_lead_id_raises_validation_error_naming_lead_id(client: Any) -> None:
    with pytest.raises(closeio_api.ValidationError) as raised:
        log_email(client, "lead_doesNotExist0000000000000000000000000")
    assert "lead_id" in raised.value.field_errors


def test_unknown_email_raises_api_error_404(client: Any) -> None:
    with pytest.raises(closeio_api.APIError) as raised:
        client.get("activity/email/acti_doesNotExist0000000000000000000000000")
    assert raised.value.response.status_code == 404
    assert "error" in raised.value.response.json()


def test_deleted_email_answers_empty_object_then_404(client: Any, lead: dict[str, Any]) -> None:
    logged = log_email(client, lead["id"])
    assert client.delete(f"activity/email/{logged['id']}") == {}
    with pytest.raises(closeio_api.APIError) as raised:
        client.get(f"activity/email/{logged['id']}")
    assert raised.value.response.status_code == 404


def test_a_conversation_is_listed_read_and_deleted_as_a_thread(
    client: Any, lead: dict[str, Any]
) -> None:
    question = log_email(client, lead["id"])
    answer = client.post(
        "activity/email",
        {"lead_id": lead["id"], "status": "draft", "in_reply_to_id": question["id"]},
    )
    page = client.get("activity/emailthread", params={"lead_id": [lead["id"]]})
    assert [thread["id"] for thread in page["data"]] == [question["thread_id"]]
    assert page["has_more"] is False
    thread = client.get(f"activity/emailthread/{question['thread_id']}")
    assert thread["_type"] == "EmailThread"
    assert [email["id"] for email in thread["emails"]] == [question["id"], answer["id"]]
    assert client.delete(f"activity/emailthread/{thread['id']}") == {}
    for path in (f"activity/emailthread/{thread['id']}", f"activity/email/{answer['id']}"):
        with pytest.raises(closeio_api.APIError) as raised:
            client.get(path)
        assert raised.value.response.status_code == 404


def test_unsubscribe_list_is_added_to_read_and_emptied(client: Any) -> None:
    address = "Unsub.Scriber@acme.example.com"
    created = client.post("unsubscribe/email", {"email": address})
    assert created["email"] == address.lower()
    assert client.post("unsubscribe/email", {"email": address.lower()})["id"] == created["id"]
    assert created in client.get("unsubscribe/email")["data"]
    assert client.delete(f"unsubscribe/email/{address}") == {}
    assert created not in client.get("unsubscribe/email")["data"]
    with pytest.raises(closeio_api.APIError) as raised:
        client.delete(f"unsubscribe/email/{address}")
    assert raised.value.response.status_code == 404


def test_bad_unsubscribe_address_raises_validation_error_naming_email(client: Any) -> None:
    with pytest.raises(closeio_api.ValidationError) as raised:
        client.post("unsubscribe/email", {"email": "not-an-address"})
    assert "email" in raised.value.field_errors


def test_me_returns_the_key_users_email_and_organization(client: Any, server: LiveServer) -> None:
    me = client.get("me")
    assert me["email"] == server.user_email
    assert [org["name"] for org in me["organizations"]] == [server.organization_name]
    assert me["organizations"][0]["id"].startswith("orga_")


def test_lead_statuses_are_read_as_closes_api_wrapper_reads_them(
    client: Any, lead: dict[str, Any]
) -> None:
    """close-api-scripts' ``CloseApiWrapper.get_lead_statuses()``: the organization of
    ``me``, then ``organization/{id}`` with ``_fields=lead_statuses``, indexed by key."""
    qualified = client.post("lead", {"name": "Qualified Corp", "status": "Qualified"})
    organization_id = client.get("me")["organizations"][0]["id"]
    params = {"_fields": "lead_statuses"}
    statuses = client.get(f"organization/{organization_id}", params=params)["lead_statuses"]
    assert statuses[0] == {"id": lead["status_id"], "label": "Potential"}
    assert {"id": qualified["status_id"], "label": "Qualified"} in statuses
    organization = client.get(f"organization/{organization_id}")
    assert client.put(f"organization/{organization_id}", organization) == organization


@pytest.mark.parametrize("tz_offset", ["-0.0", "5.5", "-8.0"])
def test_tz_offset_header_is_accepted(server: LiveServer, tz_offset: str) -> None:
    api = connect(server, tz_offset)
    try:
        assert api.session.headers["X-TZ-Offset"] == tz_offset
        assert api.get("me")["email"] == server.user_email
    finally:
        api.session.close()


def test_wrong_api_key_raises_api_error_401(server: LiveServer) -> None:
    api = closeio_api.Client("not-a-real-key")
    api.base_url = server.base_url
    try:
        with pytest.raises(closeio_api.APIError) as raised:
            api.get("me")
        assert raised.value.response.status_code == 401
        assert "error" in raised.value.response.json()
    finally:
        api.session.close()


def wait_until_sent(client: Any, email_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        email: dict[str, Any] = client.get(f"activity/email/{email_id}")
        if email["status"] != "outbox":
            return email
        time.sleep(0.1)
    raise AssertionError("the email was not sent within 20 s")


def test_uploaded_file_is_attached_and_sent(
    client: Any, server: LiveServer, lead: dict[str, Any]
) -> None:
    content = b"%PDF-1.7 quarterly numbers\n" * 100
    grant = client.post("files/upload", {"filename": "q3.pdf", "content_type": "application/pdf"})
    upload = grant["upload"]
    with requests.Session() as plain:
        response = plain.post(
            upload["url"],
            data=upload["fields"],
            files={"file": ("q3.pdf", content, "application/pdf")},
            timeout=10,
        )
    assert response.status_code == 201
    attachment = {
        "url": grant["download"]["url"],
        "filename": "q3.pdf",
        "content_type": "application/pdf",
        "size": len(content),
    }
    email = client.post(
        "activity/email",
        {
            "lead_id": lead["id"],
            "status": "outbox",
            "sender": "me@sender.example.com",
            "to": ["jane@acme.example.com"],
            "subject": "Numbers",
            "body_text": "Attached.",
            "attachments": [attachment],
        },
    )
    assert wait_until_sent(client, email["id"])["status"] == "sent"
    maildir = mailbox.Maildir(server.data_dir / "mail", create=False)
    messages = [maildir.get_message(key) for key in maildir.keys()]
    [sent] = [m for m in messages if m["Message-ID"] == email["message_ids"][0]]
    parsed = message_from_bytes(sent.as_bytes(), policy=policy.default)
    [part] = [p for p in parsed.walk() if p.get_filename() == "q3.pdf"]
    assert part.get_payload(decode=True) == content


def test_followup_tasks_are_listed_like_close(client: Any, lead: dict[str, Any]) -> None:
    followup = (datetime.now(UTC) + timedelta(seconds=0.5)).isoformat()
    email = log_email(
        client, lead["id"], status="sent", sender="me@sender.example.com", followup_date=followup
    )
    deadline = time.monotonic() + 10
    tasks: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not tasks:
        found = client.get("task", params={"_type": "email_followup", "lead_id": lead["id"]})
        tasks = found["data"]
        time.sleep(0.1)
    assert [task["email_id"] for task in tasks] == [email["id"]]
    assert tasks[0]["_type"] == "email_followup"


def test_tasks_are_bulk_updated_with_put_and_filters(client: Any, lead: dict[str, Any]) -> None:
    tasks = [client.post("task", {"lead_id": lead["id"], "text": f"Call {n}"}) for n in range(3)]
    chosen = ",".join(task["id"] for task in tasks[:2])
    answer = client.put("task", data={"is_complete": True}, params={"id__in": chosen})
    assert answer == {}
    done = [client.get(f"task/{task['id']}")["is_complete"] for task in tasks]
    assert done == [True, True, False]


def test_a_bulk_update_without_a_filter_raises_validation_error(client: Any) -> None:
    with pytest.raises(closeio_api.ValidationError) as raised:
        client.put("task", data={"is_complete": True})
    assert "at least one filter" in raised.value.errors[0]


def test_filters_posted_with_a_method_override_list_as_a_get_does(
    client: Any, lead: dict[str, Any]
) -> None:
    """Close's "Specifying filter parameters": filters as ``_params`` in a POST's body with
    ``x-http-method-override: GET`` (for long id lists), sent through the client's ``post``."""
    email = log_email(client, lead["id"])
    params = {"lead_id": lead["id"], "_fields": "id"}
    override = {"x-http-method-override": "GET"}
    listed = client.post("activity", {"_params": params}, headers=override)
    assert (
        listed
        == client.get("activity", params)
        == {"data": [{"id": email["id"]}], "has_more": False}
    )
