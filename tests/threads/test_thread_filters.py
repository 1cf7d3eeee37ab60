"""The filters Close documents for ``GET /activity/emailthread/``: each is applied, or refused
with a 400 in Close's format, never ignored (docs/decisions.md, "List filters")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant
from tests.emails.test_activity_filters import refusal
from tests.helpers import create_lead, ok
from tests.threads.test_threads import inbox_email, sent_email

PATH = "/activity/emailthread/"
JUNE = "2026-06-10T12:00:00.000000+00:00"
JULY = "2026-07-10T12:00:00.000000+00:00"


async def thread_ids(tenant: Tenant, **params: Any) -> list[str]:
    page = ok(await tenant.client.get(PATH, params=params))
    return [thread["id"] for thread in page["data"]]


async def two_threads(tenant: Tenant) -> tuple[str, str]:
    """Two threads of one lead, oldest first."""
    lead = await create_lead(tenant.client)
    first = await sent_email(tenant, lead["id"], subject="One")
    second = await sent_email(tenant, lead["id"], subject="Two")
    return first["thread_id"], second["thread_id"]


async def test_id_in_lists_those_threads(tenant: Tenant) -> None:
    first, second = await two_threads(tenant)
    assert await thread_ids(tenant, id__in=first) == [first]
    assert await thread_ids(tenant, id__in=f"{first},{second}") == [second, first]
    assert await thread_ids(tenant, id__in="acti_nothing") == []


async def test_contact_id_lists_the_threads_shown_with_that_contact(tenant: Tenant) -> None:
    contacts = [{"name": "Ann", "emails": []}, {"name": "Bob", "emails": []}]
    lead = await create_lead(tenant.client, contacts=contacts)
    ann, bob = (contact["id"] for contact in lead["contacts"])
    with_ann = await sent_email(tenant, lead["id"], subject="One", contact_id=ann)
    with_bob = await sent_email(tenant, lead["id"], subject="Two", contact_id=bob)
    assert await thread_ids(tenant, contact_id=ann) == [with_ann["thread_id"]]
    both = await thread_ids(tenant, contact_id=f"{ann},{bob}")
    assert both == [with_bob["thread_id"], with_ann["thread_id"]]
    shown = ok(await tenant.client.get(PATH, params={"contact_id": bob}))["data"][0]
    assert shown["contact_id"] == bob


async def test_user_id_lists_the_threads_holding_an_email_of_that_user(
    tenant: Tenant, colleague: Tenant
) -> None:
    lead = await create_lead(tenant.client)
    mine = await sent_email(tenant, lead["id"], subject="Mine")
    theirs = await sent_email(colleague, lead["id"], subject="Theirs")
    await sent_email(colleague, lead["id"], in_reply_to_id=mine["id"], subject="Re: Mine")
    assert await thread_ids(tenant, user_id=tenant.user_id) == [mine["thread_id"]]
    joined = await thread_ids(tenant, user_id=colleague.user_id)
    assert joined == [theirs["thread_id"], mine["thread_id"]]
    assert await thread_ids(tenant, user_id="user_nobody") == []


async def test_activity_at_filters_on_the_latest_email_of_the_thread(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    old = await sent_email(tenant, lead["id"], subject="Old", activity_at=JUNE)
    answered = await sent_email(tenant, lead["id"], subject="Answered", activity_at=JUNE)
    await inbox_email(tenant, lead["id"], in_reply_to_id=answered["id"], activity_at=JULY)
    shown = ok(await tenant.client.get(f"{PATH}{answered['thread_id']}/"))
    assert shown["activity_at"] == JULY
    assert await thread_ids(tenant, activity_at__gt="2026-07-01") == [answered["thread_id"]]
    assert await thread_ids(tenant, activity_at__lt="2026-07-01") == [old["thread_id"]]
    assert await thread_ids(tenant, activity_at__gte=JULY, activity_at__lte=JULY) == [
        answered["thread_id"]
    ]
    assert await thread_ids(tenant, activity_at__gt=JULY) == []


async def test_a_bad_activity_at_is_a_400_on_that_filter(tenant: Tenant) -> None:
    response = await tenant.client.get(PATH, params={"activity_at__gt": "soon"})
    refusal(response, "activity_at__gt")


async def test_own_or_blank_organization_id_lists_as_if_absent(tenant: Tenant) -> None:
    first, second = await two_threads(tenant)
    assert await thread_ids(tenant, organization_id=tenant.organization_id) == [second, first]
    assert await thread_ids(tenant, organization_id="") == [second, first]


async def test_another_organization_id_is_a_400_that_does_not_repeat_it(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    await two_threads(tenant)
    for value in (other_tenant.organization_id, "orga_nobody"):
        response = await tenant.client.get(PATH, params={"organization_id": value})
        errors = refusal(response, "organization_id")
        assert value not in response.text
        assert tenant.organization_id in errors["organization_id"]


@pytest.mark.parametrize("value", ["EmailThread", "Call,EmailThread"])
async def test_type_email_thread_lists_the_threads(tenant: Tenant, value: str) -> None:
    first, second = await two_threads(tenant)
    assert await thread_ids(tenant, _type=value) == [second, first]


@pytest.mark.parametrize("value", ["Call", "Note,Meeting", "actitype_1a2b"])
async def test_type_of_another_activity_finds_no_thread(tenant: Tenant, value: str) -> None:
    await two_threads(tenant)
    assert await thread_ids(tenant, _type=value) == []


@pytest.mark.parametrize(
    ("value", "said"),
    [("Email", "/activity/email/"), ("EmailThread,Email", "/activity/email/"),
     ("emailthread", "Unknown activity type")],
)  # fmt: skip
async def test_type_email_or_an_unknown_type_is_a_400(
    tenant: Tenant, value: str, said: str
) -> None:
    first, second = await two_threads(tenant)
    response = await tenant.client.get(PATH, params={"_type": value})
    assert said in refusal(response, "_type")["_type"]
    assert await thread_ids(tenant) == [second, first]


async def test_filters_combine(tenant: Tenant, colleague: Tenant) -> None:
    first, second = await two_threads(tenant)
    lead = (await create_lead(tenant.client, name="Other"))["id"]
    theirs = await sent_email(colleague, lead, activity_at=JULY)
    assert await thread_ids(tenant, id__in=f"{first},{theirs['thread_id']}", lead_id=lead) == [
        theirs["thread_id"]
    ]
    assert await thread_ids(tenant, user_id=colleague.user_id, activity_at__lt=JUNE) == []
    assert await thread_ids(tenant, user_id=tenant.user_id, _type="EmailThread") == [
        second,
        first,
    ]
