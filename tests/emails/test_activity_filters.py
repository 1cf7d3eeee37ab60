"""The filters of ``/activity/`` and ``/activity/email/`` that Close documents beyond the plain
ones: the ``__in`` twins, ``_type``/``_type__in``, and ``/activity/``'s single-lead rule. Each
is applied or refused with a 400 in Close's format, never ignored (docs/decisions.md)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, field_errors, ok

PATHS = ["/activity/", "/activity/email/"]
SINGLE_LEAD_FILTERS = [
    "user_id", "user_id__in", "contact_id", "contact_id__in", "_type", "_type__in",
]  # fmt: skip


async def ids(tenant: Tenant, path: str, **params: Any) -> list[str]:
    page = ok(await tenant.client.get(path, params=params))
    return [email["id"] for email in page["data"]]


async def two_leads(tenant: Tenant) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    """Two leads with one email each: the leads, then the emails' ids."""
    one = await create_lead(tenant.client)
    two = await create_lead(tenant.client, name="Two")
    first = await create_email(tenant.client, one["id"], contact_id=one["contacts"][0]["id"])
    second = await create_email(tenant.client, two["id"])
    return one, two, first["id"], second["id"]


def refusal(response: Any, *names: str) -> dict[str, str]:
    """The 400 body of a refused filter: Close's three keys, a field error for each name."""
    errors = field_errors(response)
    assert set(errors) == set(names), errors
    body = response.json()
    assert set(body) == {"errors", "field-errors", "error"}
    assert body["errors"] == []
    assert body["error"].split(":")[0] in names
    return errors


@pytest.mark.parametrize("path", PATHS)
async def test_lead_id_in_lists_the_emails_of_those_leads(tenant: Tenant, path: str) -> None:
    one, two, first, second = await two_leads(tenant)
    assert await ids(tenant, path, lead_id__in=one["id"]) == [first]
    both = await ids(tenant, path, lead_id__in=f"{one['id']},{two['id']}")
    assert both == [second, first]
    assert await ids(tenant, path, lead_id__in="lead_nobody") == []


@pytest.mark.parametrize("path", PATHS)
async def test_a_filter_and_its_in_twin_both_apply(tenant: Tenant, path: str) -> None:
    one, two, _, second = await two_leads(tenant)
    both = f"{one['id']},{two['id']}"
    assert await ids(tenant, path, lead_id=both, lead_id__in=two["id"]) == [second]
    assert await ids(tenant, path, lead_id=one["id"], lead_id__in=two["id"]) == []


async def test_user_id_in_and_contact_id_in_filter_a_single_leads_activities(
    tenant: Tenant, colleague: Tenant
) -> None:
    lead = await create_lead(tenant.client)
    contact_id = lead["contacts"][0]["id"]
    mine = await create_email(tenant.client, lead["id"], contact_id=contact_id)
    theirs = await create_email(colleague.client, lead["id"])
    on_lead = {"lead_id": lead["id"]}
    assert await ids(tenant, "/activity/", user_id__in=colleague.user_id, **on_lead) == [
        theirs["id"]
    ]
    users = f"{tenant.user_id},{colleague.user_id}"
    assert await ids(tenant, "/activity/", user_id__in=users, **on_lead) == [
        theirs["id"],
        mine["id"],
    ]
    assert await ids(tenant, "/activity/", contact_id__in=contact_id, **on_lead) == [mine["id"]]


async def test_the_email_list_takes_its_in_twins_without_a_lead(
    tenant: Tenant, colleague: Tenant
) -> None:
    """``/activity/email/`` has no single-lead rule: its filters work on the organization."""
    one, _, first, _ = await two_leads(tenant)
    theirs = await create_email(colleague.client, one["id"])
    assert await ids(tenant, "/activity/email/", user_id__in=colleague.user_id) == [theirs["id"]]
    contact_id = one["contacts"][0]["id"]
    assert await ids(tenant, "/activity/email/", contact_id__in=contact_id) == [first]
    assert await ids(tenant, "/activity/email/", _type="Email") != []


@pytest.mark.parametrize("path", PATHS)
async def test_type_email_lists_emails_and_other_close_types_list_nothing(
    tenant: Tenant, path: str
) -> None:
    """Postroom keeps emails only: ``Email`` matches them, any other type Close knows (a
    custom activity type id too) matches nothing Postroom has."""
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"])
    on_lead = {"lead_id": lead["id"]}
    assert await ids(tenant, path, _type="Email", **on_lead) == [email["id"]]
    assert await ids(tenant, path, _type__in="Call,Email", **on_lead) == [email["id"]]
    for other in ("Call", "Note,SMS,Meeting", "Custom", "actitype_1h5m6uHM9BZOpwVhyRJb4Y"):
        assert await ids(tenant, path, _type=other, **on_lead) == []
        assert await ids(tenant, path, _type__in=other, **on_lead) == []


@pytest.mark.parametrize("path", PATHS)
async def test_type_and_type_in_both_apply(tenant: Tenant, path: str) -> None:
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"])
    on_lead = {"lead_id": lead["id"]}
    assert await ids(tenant, path, _type="Email,Call", _type__in="Email", **on_lead) == [
        email["id"]
    ]
    assert await ids(tenant, path, _type="Email", _type__in="Call", **on_lead) == []


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", ["_type", "_type__in"])
async def test_type_email_thread_is_a_400_pointing_to_the_thread_list(
    tenant: Tenant, path: str, name: str
) -> None:
    """Postroom has threads but these lists hold no EmailThread objects: an empty answer would
    say the lead has none."""
    lead = await create_lead(tenant.client)
    await create_email(tenant.client, lead["id"])
    for value in ("EmailThread", "Email,EmailThread"):
        response = await tenant.client.get(path, params={name: value, "lead_id": lead["id"]})
        assert "/activity/emailthread/" in refusal(response, name)[name]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", ["_type", "_type__in"])
async def test_an_unknown_activity_type_is_a_400(tenant: Tenant, path: str, name: str) -> None:
    lead = await create_lead(tenant.client)
    for value in ("email", "Emails", "Email,Cal"):
        response = await tenant.client.get(path, params={name: value, "lead_id": lead["id"]})
        refusal(response, name)


@pytest.mark.parametrize("name", SINGLE_LEAD_FILTERS)
async def test_lead_scoped_filters_of_activity_need_a_single_lead(
    tenant: Tenant, name: str
) -> None:
    """Close: these filters can only be used when listing one lead's activities."""
    one, two, first, _ = await two_leads(tenant)
    value = {
        "user_id": tenant.user_id,
        "contact_id": one["contacts"][0]["id"],
        "_type": "Email",
    }[name.removesuffix("__in")]
    both = f"{one['id']},{two['id']}"
    for leads in ({}, {"lead_id": both}, {"lead_id__in": both}):
        response = await tenant.client.get("/activity/", params={name: value, **leads})
        assert "single lead" in refusal(response, name)[name]
    for single in ({"lead_id": one["id"]}, {"lead_id__in": one["id"]}):
        assert await ids(tenant, "/activity/", **{name: value, **single}) == [first]


async def test_every_lead_scoped_filter_sent_without_a_lead_is_named(tenant: Tenant) -> None:
    params = {"user_id": tenant.user_id, "contact_id__in": "cont_x", "_type": "Email"}
    response = await tenant.client.get("/activity/", params=params)
    refusal(response, "user_id", "contact_id__in", "_type")


async def test_a_refused_filter_leaves_the_list_as_it_was(tenant: Tenant) -> None:
    """A 400 is only an answer: the same list asked properly afterwards is unchanged."""
    one, _, first, second = await two_leads(tenant)
    before = ok(await tenant.client.get("/activity/"))
    refusal(await tenant.client.get("/activity/", params={"user_id": tenant.user_id}), "user_id")
    refusal(await tenant.client.get("/activity/", params={"_type": "EmailThread"}), "_type")
    assert ok(await tenant.client.get("/activity/")) == before
    assert [email["id"] for email in before["data"]][:2] == [second, first]
    assert await ids(tenant, "/activity/", lead_id=one["id"], user_id=tenant.user_id) == [first]


@pytest.mark.parametrize("path", PATHS)
async def test_organization_id_is_the_callers_own_or_a_400(
    tenant: Tenant, other_tenant: Tenant, path: str
) -> None:
    """Another organization's id (or one that does not exist) is refused, not answered with
    an empty page, and the answer does not repeat it."""
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"])
    assert await ids(tenant, path, organization_id=tenant.organization_id) == [email["id"]]
    assert await ids(tenant, path, organization_id="") == [email["id"]]
    for other in (other_tenant.organization_id, "orga_nobody"):
        response = await tenant.client.get(path, params={"organization_id": other})
        refusal(response, "organization_id")
        assert other not in response.text


async def test_thread_emails_true_or_only_is_a_400_pointing_to_the_thread_list(
    tenant: Tenant,
) -> None:
    """Postroom's ``/activity/`` holds Email objects only: the EmailThread objects that
    ``thread_emails`` asks for are refused, not silently left out."""
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"])
    for value in ("true", "only"):
        response = await tenant.client.get("/activity/", params={"thread_emails": value})
        assert "/activity/emailthread/" in refusal(response, "thread_emails")["thread_emails"]
    refusal(await tenant.client.get("/activity/", params={"thread_emails": "yes"}), "thread_emails")
    for default in ("false", ""):
        assert await ids(tenant, "/activity/", thread_emails=default) == [email["id"]]
