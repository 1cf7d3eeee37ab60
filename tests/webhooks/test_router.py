"""Webhook subscriptions over HTTP: CRUD, the signature key, limits, URL checks, tenancy (§3).

The foundation app refuses private addresses (``webhooks_allow_private`` is false by default),
so these tests subscribe public IP literals, which need no DNS.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select

from postroom.app import create_app
from postroom.config import Settings
from postroom.db import Database
from postroom.events.catalog import EMITTED
from postroom.kit.datetimes import utcnow
from postroom.models import WebhookDelivery, WebhookSubscription
from postroom.webhooks.service import sealing_box
from tests.conftest import Tenant, create_tenant
from tests.helpers import during, field_errors, ok
from tests.webhooks.conftest import LEAD_CREATED, read_subscription, subscribe

PUBLIC_URL = "https://93.184.216.34/hooks/close"
OTHER_PUBLIC_URL = "http://1.1.1.1:8080/other"
SUBSCRIPTION_FIELDS = {
    "id", "organization_id", "url", "events", "event_filter", "verify_ssl", "status",
    "created_by", "updated_by", "date_created", "date_updated",
}  # fmt: skip
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
NOT_FOUND = {"error": "Empty query: WebhookSubscription matching query does not exist."}
EMAIL_SENT = {"object_type": "activity.email", "action": "sent"}


@pytest.fixture(scope="module")
async def private_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app with ``webhooks_allow_private`` on, on the same database."""
    application = create_app(settings.model_copy(update={"webhooks_allow_private": True}))
    async with application.router.lifespan_context(application):
        yield application


async def listed(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    return ok(await client.get("/webhook/", params=params))


async def create(client: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    return await client.post(
        "/webhook/", json={"url": PUBLIC_URL, "events": [LEAD_CREATED]} | fields
    )


async def test_created_subscription_has_its_fields_and_a_signature_key(tenant: Tenant) -> None:
    created = await subscribe(tenant.client, PUBLIC_URL, [LEAD_CREATED, EMAIL_SENT])
    assert set(created) == SUBSCRIPTION_FIELDS | {"signature_key"}
    assert created["id"].startswith("whsub_")
    assert re.fullmatch(r"[0-9a-f]{64}", created["signature_key"])
    assert (created["url"], created["events"]) == (PUBLIC_URL, [LEAD_CREATED, EMAIL_SENT])
    assert (created["verify_ssl"], created["status"]) == (True, "active")
    assert created["organization_id"] == tenant.organization_id
    assert (created["created_by"], created["updated_by"]) == (tenant.user_id, tenant.user_id)
    for name in ("date_created", "date_updated"):
        assert DATETIME.match(created[name]), name


async def test_signature_key_is_never_shown_again(tenant: Tenant) -> None:
    created = await subscribe(tenant.client, PUBLIC_URL)
    read = await read_subscription(tenant.client, created["id"])
    assert set(read) == SUBSCRIPTION_FIELDS
    [item] = (await listed(tenant.client))["data"]
    assert "signature_key" not in item
    updated = ok(await tenant.client.put(f"/webhook/{created['id']}/", json={"verify_ssl": False}))
    assert "signature_key" not in updated


async def test_signature_key_is_stored_sealed(
    tenant: Tenant, database: Database, settings: Settings
) -> None:
    created = await subscribe(tenant.client, PUBLIC_URL)
    async with database.transaction() as session:
        row = await session.get(WebhookSubscription, created["id"])
    assert row is not None
    assert created["signature_key"] not in row.signature_key_sealed
    assert sealing_box(settings).open(row.signature_key_sealed) == created["signature_key"]


async def test_each_subscription_gets_its_own_key(tenant: Tenant) -> None:
    first = await subscribe(tenant.client, PUBLIC_URL)
    second = await subscribe(tenant.client, PUBLIC_URL)
    assert first["signature_key"] != second["signature_key"]


async def test_verify_ssl_can_be_turned_off_on_create(tenant: Tenant) -> None:
    response = await create(tenant.client, verify_ssl=False)
    assert response.status_code == 201, response.text
    assert response.json()["verify_ssl"] is False


async def test_unknown_fields_and_empty_event_filters_are_ignored(tenant: Tenant) -> None:
    event = {**LEAD_CREATED, "extra_filter": None}
    response = await create(tenant.client, events=[event], event_filter=None, status="paused")
    assert response.status_code == 201, response.text
    assert (response.json()["events"], response.json()["status"]) == ([LEAD_CREATED], "active")


FILTER = {"type": "field_accessor", "field": "data", "filter": {"type": "equals", "value": "x"}}
SENT_BY_ME = {
    "type": "field_accessor",
    "field": "user_id",
    "filter": {"type": "equals", "value": "user_me"},
}


async def test_webhook_filters_are_kept_and_shown(tenant: Tenant) -> None:
    """Close's webhook filters: an ``extra_filter`` on a subscribed event, an
    ``event_filter`` on the subscription; both read back as posted, and a PUT replaces them."""
    filtered_event = {**LEAD_CREATED, "extra_filter": FILTER}
    response = await create(tenant.client, events=[filtered_event], event_filter=SENT_BY_ME)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["events"], created["event_filter"]) == ([filtered_event], SENT_BY_ME)
    subscription_id = created["id"]
    assert await read_subscription(tenant.client, subscription_id) == {
        name: value for name, value in created.items() if name != "signature_key"
    }
    changes = {"events": [LEAD_CREATED], "event_filter": None}
    updated = ok(await tenant.client.put(f"/webhook/{subscription_id}/", json=changes))
    assert (updated["events"], updated["event_filter"]) == ([LEAD_CREATED], None)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"events": [{**LEAD_CREATED, "extra_filter": {"type": "like", "value": 1}}]}, "events"),
        ({"event_filter": {"type": "and", "filters": []}}, "event_filter"),
        ({"event_filter": {"type": "field_accessor", "filter": FILTER}}, "event_filter"),
    ],
)
async def test_a_malformed_webhook_filter_is_a_400_and_changes_nothing(
    tenant: Tenant, fields: dict[str, Any], field: str
) -> None:
    """A filter Close's filter language does not describe could never be evaluated: a 400
    naming its field, on create and on update, and nothing changes."""
    response = await create(tenant.client, **fields)
    assert set(field_errors(response)) == {field}
    assert (await listed(tenant.client))["data"] == []
    subscription_id = (await subscribe(tenant.client, PUBLIC_URL))["id"]
    before = await read_subscription(tenant.client, subscription_id)
    response = await tenant.client.put(f"/webhook/{subscription_id}/", json=fields)
    assert set(field_errors(response)) == {field}
    assert await read_subscription(tenant.client, subscription_id) == before


async def test_list_shows_subscriptions_newest_first_with_paging(tenant: Tenant) -> None:
    ids = [(await subscribe(tenant.client, PUBLIC_URL))["id"] for _ in range(3)]
    everything = await listed(tenant.client)
    assert [item["id"] for item in everything["data"]] == ids[::-1]
    assert everything["has_more"] is False
    first_page = await listed(tenant.client, _limit=2)
    assert [item["id"] for item in first_page["data"]] == ids[:0:-1]
    assert first_page["has_more"] is True
    last_page = await listed(tenant.client, _skip=2, _limit=2)
    assert ([item["id"] for item in last_page["data"]], last_page["has_more"]) == (ids[:1], False)


async def test_fields_parameter_selects_fields(tenant: Tenant) -> None:
    created = await subscribe(tenant.client, PUBLIC_URL)
    read = ok(await tenant.client.get(f"/webhook/{created['id']}/", params={"_fields": "id,url"}))
    assert read == {"id": created["id"], "url": PUBLIC_URL}


async def test_put_changes_only_the_fields_sent(tenant: Tenant) -> None:
    created = await subscribe(tenant.client, PUBLIC_URL)
    body = {"url": OTHER_PUBLIC_URL, "events": [EMAIL_SENT]}
    updated = ok(await tenant.client.put(f"/webhook/{created['id']}/", json=body))
    assert (updated["url"], updated["events"]) == (OTHER_PUBLIC_URL, [EMAIL_SENT])
    assert (updated["verify_ssl"], updated["status"]) == (True, "active")
    assert updated["date_updated"] >= created["date_updated"]
    assert await read_subscription(tenant.client, created["id"]) == updated


async def test_put_pauses_and_resumes_and_resuming_clears_the_failure_clock(
    tenant: Tenant, database: Database
) -> None:
    created = await subscribe(tenant.client, PUBLIC_URL)
    url = f"/webhook/{created['id']}/"
    assert ok(await tenant.client.put(url, json={"status": "paused"}))["status"] == "paused"
    async with database.transaction() as session:
        row = await session.get(WebhookSubscription, created["id"])
        assert row is not None
        row.failing_since = utcnow()
    assert ok(await tenant.client.put(url, json={"status": "active"}))["status"] == "active"
    async with database.transaction() as session:
        row = await session.get(WebhookSubscription, created["id"])
    assert row is not None
    assert row.failing_since is None


async def test_unknown_status_is_a_field_error(tenant: Tenant) -> None:
    created = await subscribe(tenant.client, PUBLIC_URL)
    response = await tenant.client.put(f"/webhook/{created['id']}/", json={"status": "off"})
    assert "status" in field_errors(response)


async def test_delete_removes_the_subscription(tenant: Tenant) -> None:
    created = await subscribe(tenant.client, PUBLIC_URL)
    assert ok(await tenant.client.delete(f"/webhook/{created['id']}/")) == {}
    response = await tenant.client.get(f"/webhook/{created['id']}/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert (await listed(tenant.client))["data"] == []


async def test_a_change_racing_the_deletion_of_a_subscription_succeeds_and_queues_nothing(
    tenant: Tenant, database: Database
) -> None:
    """The change's event was queued for the subscription it had read, whose deletion then
    committed: a foreign-key error on PostgreSQL, so the lead creation was a 500."""
    created = await subscribe(tenant.client, PUBLIC_URL)
    gone = delete(WebhookSubscription).where(WebhookSubscription.id == created["id"])
    response = await during(database, gone, tenant.client.post("/lead/", json={"name": "Acme"}))
    assert response.status_code == 200, response.text
    async with database.transaction() as session:
        queued = select(WebhookDelivery).where(WebhookDelivery.subscription_id == created["id"])
        assert (await session.execute(queued)).scalars().all() == []
    assert ok(await tenant.client.get("/webhook/"))["data"] == []


async def test_another_organizations_subscription_is_not_found(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    created = await subscribe(other_tenant.client, PUBLIC_URL)
    url = f"/webhook/{created['id']}/"
    for response in (
        await tenant.client.get(url),
        await tenant.client.put(url, json={"status": "paused"}),
        await tenant.client.delete(url),
    ):
        assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert (await listed(tenant.client))["data"] == []
    assert (await read_subscription(other_tenant.client, created["id"]))["status"] == "active"


async def test_an_organization_has_at_most_40_subscriptions(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    for _ in range(40):
        await subscribe(tenant.client, PUBLIC_URL)
    response = await create(tenant.client)
    assert response.status_code == 400, response.text
    assert response.json()["errors"] == [
        "An organization can have at most 40 webhook subscriptions."
    ]
    await subscribe(other_tenant.client, PUBLIC_URL)


async def test_the_limit_holds_when_subscriptions_are_created_at_once(tenant: Tenant) -> None:
    responses = await asyncio.gather(*(create(tenant.client) for _ in range(45)))
    assert sorted(response.status_code for response in responses) == [201] * 40 + [400] * 5
    assert len((await listed(tenant.client, _limit=100))["data"]) == 40


async def test_anonymous_caller_is_refused(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/webhook/")).status_code == 401


@pytest.mark.parametrize(
    "events",
    [
        [],
        [{"object_type": "lead"}],
        [{"action": "created"}],
        [{"object_type": "", "action": "created"}],
        [{"object_type": "lead", "action": ""}],
        [{"object_type": 1, "action": "created"}],
        ["lead.created"],
        None,
    ],
)
async def test_events_need_a_non_empty_object_type_and_action(tenant: Tenant, events: Any) -> None:
    assert "events" in field_errors(await create(tenant.client, events=events))


async def test_every_event_postroom_emits_can_be_subscribed_to(tenant: Tenant) -> None:
    events = [
        {"object_type": object_type, "action": action}
        for object_type, actions in EMITTED.items()
        for action in sorted(actions)
    ]
    assert {"object_type": "task.lead", "action": "completed"} in events
    assert (await subscribe(tenant.client, PUBLIC_URL, events))["events"] == events


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            {"object_type": "activity.emial", "action": "created"},
            "Unknown object_type 'activity.emial'; Postroom emits events for: ",
        ),
        ({"object_type": "opportunity", "action": "created"}, "Unknown object_type 'opportunity'"),
        ({"object_type": "activity.call", "action": "created"}, "Unknown object_type"),
        ({"object_type": "lead", "action": "merged"}, "Unknown action 'merged' for lead"),
        ({"object_type": "activity.email", "action": "create"}, "Unknown action 'create'"),
        ({"object_type": "activity.email_thread", "action": "sent"}, "Unknown action 'sent'"),
    ],
)
async def test_an_event_postroom_never_emits_is_a_field_error_and_nothing_is_created(
    tenant: Tenant, event: dict[str, str], message: str
) -> None:
    response = await create(tenant.client, events=[LEAD_CREATED, event])
    assert field_errors(response)["events"].startswith(message)
    assert (await listed(tenant.client))["data"] == []


async def test_an_event_postroom_never_emits_is_refused_on_update_and_nothing_changes(
    tenant: Tenant,
) -> None:
    created = await subscribe(tenant.client, PUBLIC_URL)
    typo = {"object_type": "activity.emial", "action": "sent"}
    body = {"events": [typo], "url": OTHER_PUBLIC_URL}
    response = await tenant.client.put(f"/webhook/{created['id']}/", json=body)
    assert "events" in field_errors(response)
    read = await read_subscription(tenant.client, created["id"])
    assert (read["events"], read["url"], read["date_updated"]) == (
        [LEAD_CREATED], PUBLIC_URL, created["date_updated"],
    )  # fmt: skip


async def test_empty_events_are_refused_on_update(tenant: Tenant) -> None:
    created = await subscribe(tenant.client, PUBLIC_URL)
    response = await tenant.client.put(f"/webhook/{created['id']}/", json={"events": []})
    assert "events" in field_errors(response)


@pytest.mark.parametrize(
    "url",
    ["ftp://93.184.216.34/", "file:///etc/passwd", "hooks.example.com/close", "http://", "http:///x",
     "http://93.184.216.34:99999/", "javascript:alert(1)"],
)  # fmt: skip
async def test_url_must_be_http_or_https_with_a_host(tenant: Tenant, url: str) -> None:
    assert "url" in field_errors(await create(tenant.client, url=url))


@pytest.mark.parametrize(
    "url",
    ["https://93.184.216.34/hooks\r\nX-Injected: 1", "https://93.184.216.34/\thooks",
     "https://93.184.216.34/my hooks", "https://93.184.216.34/\x7fhooks",
     "https://93.184.216.34/\x01", "https://93.184.216.34/hooks\u2028", " https://93.184.216.34/"],
)  # fmt: skip
async def test_url_with_spaces_or_control_characters_is_refused_and_nothing_is_created(
    tenant: Tenant, url: str
) -> None:
    """``urlsplit`` skips tabs and line breaks, so such a URL passed the host check and was
    stored, though no request can ever be sent to it."""
    errors = field_errors(await create(tenant.client, url=url))
    assert errors["url"] == "A URL may not contain spaces, line breaks or control characters."
    assert ok(await tenant.client.get("/webhook/"))["data"] == []


MALFORMED_URLS = [
    "http://[::1/hooks",
    "https://[2606:2800:220:1::/",
    "http://xn--/hooks",
    "http://%zz/hooks",
    "http://a..b/hooks",
    "http://93.184.216.34:0/hooks",
]


@pytest.mark.parametrize("url", MALFORMED_URLS)
async def test_malformed_url_is_a_400_on_url_and_nothing_is_created(
    tenant: Tenant, url: str
) -> None:
    """An unclosed IPv6 bracket made ``urlsplit`` raise: a 500."""
    assert "url" in field_errors(await create(tenant.client, url=url))
    created = await subscribe(tenant.client, PUBLIC_URL)
    response = await tenant.client.put(f"/webhook/{created['id']}/", json={"url": url})
    assert "url" in field_errors(response)
    assert [item["url"] for item in ok(await tenant.client.get("/webhook/"))["data"]] == [
        PUBLIC_URL
    ]


@pytest.mark.parametrize("url", MALFORMED_URLS)
async def test_malformed_url_is_refused_where_private_addresses_are_allowed(
    private_app: FastAPI, url: str
) -> None:
    """Without a DNS lookup on create, such URLs were stored, and every delivery to them failed
    (the sender's HTTP client refuses them, or no DNS name matches them) until paused."""
    tenant = await create_tenant(private_app, private_app.state.database)
    try:
        response = await tenant.client.post(
            "/webhook/", json={"url": url, "events": [LEAD_CREATED]}
        )
        assert "url" in field_errors(response)
        assert ok(await tenant.client.get("/webhook/"))["data"] == []
    finally:
        await tenant.client.aclose()


async def test_update_to_a_url_with_a_line_break_changes_nothing(tenant: Tenant) -> None:
    created = await subscribe(tenant.client, PUBLIC_URL)
    before = await read_subscription(tenant.client, created["id"])
    url = f"/webhook/{created['id']}/"
    response = await tenant.client.put(url, json={"url": PUBLIC_URL + "\r\nX: 1"})
    assert "url" in field_errors(response)
    assert await read_subscription(tenant.client, created["id"]) == before


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "http://localhost/hooks",
        "http://10.1.2.3/",
        "http://172.16.0.5/",
        "http://192.168.1.10/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://100.64.0.1/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[2002:7f00:1::1]/",  # 6to4 of 127.0.0.1
        "http://[2002:c0a8:101::1]/",  # 6to4 of 192.168.1.1
        "http://[2002:a9fe:a9fe::1]/",  # 6to4 of 169.254.169.254
    ],
)
async def test_url_of_a_loopback_or_private_address_is_refused(tenant: Tenant, url: str) -> None:
    errors = field_errors(await create(tenant.client, url=url))
    assert errors["url"] == "The URL resolves to a loopback or private address."


async def test_update_to_a_private_address_is_refused(tenant: Tenant) -> None:
    created = await subscribe(tenant.client, PUBLIC_URL)
    url = f"/webhook/{created['id']}/"
    assert "url" in field_errors(await tenant.client.put(url, json={"url": "http://10.0.0.1/"}))
    assert (await read_subscription(tenant.client, created["id"]))["url"] == PUBLIC_URL


async def test_private_address_is_allowed_when_webhooks_allow_private(private_app: FastAPI) -> None:
    tenant = await create_tenant(private_app, private_app.state.database)
    try:
        created = await subscribe(tenant.client, "http://127.0.0.1:8080/hooks")
        assert created["url"] == "http://127.0.0.1:8080/hooks"
        response = await tenant.client.post(
            "/webhook/", json={"url": "ftp://127.0.0.1/", "events": [LEAD_CREATED]}
        )
        assert "url" in field_errors(response)
    finally:
        await tenant.client.aclose()
