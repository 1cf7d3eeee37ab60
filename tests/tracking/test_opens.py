"""Open tracking: the pixel records opens, repeats within 60 s count once (point 7, 10)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from postroom.db import Database
from postroom.emails.schemas import MAX_OPENS, MAX_USER_AGENT
from postroom.models import EmailActivity
from postroom.tracking.service import PIXEL_GIF
from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, ok

T0 = datetime(2026, 11, 26, 14, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(app: FastAPI) -> Iterator[Clock]:
    fake = Clock()
    app.state.clock = fake
    yield fake
    del app.state.clock


async def token_of(database: Database, email_id: str) -> str:
    async with database.transaction() as session:
        statement = select(EmailActivity.open_token).where(EmailActivity.id == email_id)
        token = (await session.execute(statement)).scalar_one()
    assert token is not None
    return token


async def sent_to_one(tenant: Tenant) -> dict[str, Any]:
    lead = await create_lead(tenant.client)
    return await create_email(
        tenant.client, lead["id"], status="sent", to=["Bob <bob@buyer.example.com>"],
        body_html="<p>Hi</p>",
    )  # fmt: skip


async def fetch_pixel(tenant: Tenant, token: str, agent: str = "Mail/1.0") -> None:
    response = await tenant.client.get(
        f"http://testserver/t/o/{token}.gif", headers={"user-agent": agent}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content == PIXEL_GIF


async def opens_of(tenant: Tenant, email_id: str) -> dict[str, Any]:
    return ok(await tenant.client.get(f"/activity/email/{email_id}/"))


async def test_outgoing_emails_get_an_unguessable_token_and_inbox_ones_none(
    tenant: Tenant, database: Database
) -> None:
    email = await sent_to_one(tenant)
    assert len(await token_of(database, email["id"])) >= 32
    lead = await create_lead(tenant.client)
    inbox = await create_email(tenant.client, lead["id"], status="inbox", sender="a@example.com")
    async with database.transaction() as session:
        statement = select(EmailActivity.open_token).where(EmailActivity.id == inbox["id"])
        assert (await session.execute(statement)).scalar_one() is None


async def test_fetching_the_pixel_records_an_open(
    tenant: Tenant, database: Database, clock: Clock
) -> None:
    email = await sent_to_one(tenant)
    await fetch_pixel(tenant, await token_of(database, email["id"]))
    after = await opens_of(tenant, email["id"])
    [opened] = after["opens"]
    assert opened["opened_at"] == "2026-11-26T14:03:00.000000+00:00"
    assert opened["opened_by"] == "bob@buyer.example.com"
    assert opened["user_agent"] == "Mail/1.0"
    assert opened["ip_address"]
    assert after["opens_summary"] == "Opened once, last on 26 Nov 2026 14:03 UTC"


async def test_a_repeat_within_60_seconds_counts_once_and_later_counts_again(
    tenant: Tenant, database: Database, clock: Clock
) -> None:
    email = await sent_to_one(tenant)
    token = await token_of(database, email["id"])
    await fetch_pixel(tenant, token)
    clock.now = T0 + timedelta(seconds=59)
    await fetch_pixel(tenant, token)
    assert len((await opens_of(tenant, email["id"]))["opens"]) == 1
    clock.now = T0 + timedelta(seconds=61)
    await fetch_pixel(tenant, token)
    after = await opens_of(tenant, email["id"])
    assert len(after["opens"]) == 2
    assert after["opens_summary"] == "Opened 2 times, last on 26 Nov 2026 14:04 UTC"


async def test_another_user_agent_within_60_seconds_is_another_open(
    tenant: Tenant, database: Database, clock: Clock
) -> None:
    email = await sent_to_one(tenant)
    token = await token_of(database, email["id"])
    await fetch_pixel(tenant, token, agent="Mail/1.0")
    await fetch_pixel(tenant, token, agent="Phone/2.0")
    assert len((await opens_of(tenant, email["id"]))["opens"]) == 2


async def test_opened_by_is_an_empty_string_with_several_recipients(
    tenant: Tenant, database: Database, clock: Clock
) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client, lead["id"], status="sent", to=["a@example.com"], cc=["b@example.com"]
    )
    await fetch_pixel(tenant, await token_of(database, email["id"]))
    """Nobody in particular opened it; Close's schema gives an open's values as strings."""
    assert (await opens_of(tenant, email["id"]))["opens"][0]["opened_by"] == ""


async def test_an_unknown_token_gets_the_gif_and_records_nothing(
    tenant: Tenant, clock: Clock
) -> None:
    email = await sent_to_one(tenant)
    await fetch_pixel(tenant, "not-a-real-token")
    assert (await opens_of(tenant, email["id"]))["opens"] == []


async def test_the_pixel_needs_no_credentials(
    anonymous: Any, tenant: Tenant, database: Database, clock: Clock
) -> None:
    email = await sent_to_one(tenant)
    token = await token_of(database, email["id"])
    response = await anonymous.get(f"http://testserver/t/o/{token}.gif")
    assert response.status_code == 200
    assert len((await opens_of(tenant, email["id"]))["opens"]) == 1


async def test_never_opened_has_null_summary(tenant: Tenant) -> None:
    email = await sent_to_one(tenant)
    assert email["opens_summary"] is None
    assert email["opens"] == []


async def test_an_open_is_an_updated_event_of_its_email(
    tenant: Tenant, database: Database, clock: Clock
) -> None:
    """An open changes the email as the API shows it (``opens``, ``opens_summary``), so it
    records an ``activity.email`` ``updated`` event with what changed and the old values
    (Close's Event Log: ``changed_fields`` "for update events, contains a list of fields that
    have changed"); Postroom made the change, so it names no user and no request."""
    email = await sent_to_one(tenant)
    await fetch_pixel(tenant, await token_of(database, email["id"]))
    params = {"object_id": email["id"], "action": "updated"}
    [updated] = ok(await tenant.client.get("/event/", params=params))["data"]
    assert updated["data"] == await opens_of(tenant, email["id"])
    assert {"opens", "opens_summary", "date_updated"} <= set(updated["changed_fields"])
    assert updated["previous_data"]["opens"] == []
    assert (updated["user_id"], updated["request_id"]) == (None, None)


async def test_a_long_user_agent_is_cut_to_what_the_api_takes_back(
    tenant: Tenant, database: Database, clock: Clock
) -> None:
    email = await sent_to_one(tenant)
    await fetch_pixel(tenant, await token_of(database, email["id"]), agent="A" * 5000)
    after = await opens_of(tenant, email["id"])
    assert after["opens"][0]["user_agent"] == "A" * MAX_USER_AGENT
    response = await tenant.client.put(f"/activity/email/{email['id']}/", json=after)
    assert ok(response)["opens"] == after["opens"]


async def test_an_email_keeps_at_most_as_many_opens_as_a_client_may_post(
    tenant: Tenant, database: Database, clock: Clock
) -> None:
    lead = await create_lead(tenant.client)
    opens = [{"opened_at": "2026-11-01T10:00:00+00:00"}] * MAX_OPENS
    email = await create_email(
        tenant.client, lead["id"], status="sent", to=["bob@buyer.example.com"], opens=opens
    )
    await fetch_pixel(tenant, await token_of(database, email["id"]), agent="New/1.0")
    after = await opens_of(tenant, email["id"])
    assert len(after["opens"]) == MAX_OPENS
    assert after["opens"][-1]["user_agent"] == ""
