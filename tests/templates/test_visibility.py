"""Who sees an email template (docs/decisions.md, "Templates"): a template that is not shared
is its creator's alone, and for a colleague it does not exist; a shared one is everyone's in
the organization to read and use, and its creator's alone to change or delete."""

from __future__ import annotations

from itertools import product
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import create_lead, ok

NOT_FOUND = {"error": "Empty query: EmailTemplate matching query does not exist."}
FORBIDDEN = {"error": "Only the user who created an email template may change or delete it."}
TEMPLATE_CALLS = [("GET", ""), ("PUT", ""), ("DELETE", ""), ("GET", "render/")]


async def create_template(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"name": "Welcome", "subject": "Hello {{ contact.first_name }}", "body": "<p>Hi</p>"}
    return ok(await client.post("/email_template/", json=body | fields))


async def render_query(client: httpx.AsyncClient) -> dict[str, str]:
    lead = await create_lead(client)
    return {"lead_id": lead["id"], "contact_id": lead["contacts"][0]["id"]}


@pytest.mark.parametrize(("method", "suffix"), TEMPLATE_CALLS, ids=lambda part: part or "-")
async def test_a_template_that_is_not_shared_is_not_found_for_a_colleague(
    tenant: Tenant, colleague: Tenant, method: str, suffix: str
) -> None:
    template = await create_template(tenant.client)
    url = f"/email_template/{template['id']}/{suffix}"
    params = await render_query(colleague.client) if suffix else None
    body = {"name": "Taken over"} if method == "PUT" else None
    response = await colleague.client.request(method, url, params=params, json=body)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert ok(await tenant.client.get(f"/email_template/{template['id']}/")) == template


async def listed(tenant: Tenant, query: dict[str, str]) -> list[str]:
    """Every template id of the list, one per page, checking ``has_more`` on each page."""
    seen: list[str] = []
    for _ in range(10):
        params = query | {"_skip": str(len(seen)), "_limit": "1"}
        page = ok(await tenant.client.get("/email_template/", params=params))
        seen += [template["id"] for template in page["data"]]
        assert len(page["data"]) == 1 or not page["has_more"], page
        if not page["has_more"]:
            return seen
    raise AssertionError(f"has_more never became false: {seen}")


def matches(template: dict[str, Any], query: dict[str, str]) -> bool:
    return all(str(template[name]).lower() == value for name, value in query.items())


LIST_QUERIES = [
    {},
    *({name: value} for name in ("is_shared", "is_archived") for value in ("false", "true")),
]


@pytest.mark.parametrize("query", LIST_QUERIES, ids=str)
async def test_each_users_list_shows_the_shared_templates_and_their_own(
    tenant: Tenant, colleague: Tenant, query: dict[str, str]
) -> None:
    flags = product((False, True), repeat=2)
    templates = [await create_template(tenant.client, is_shared=s, is_archived=a) for s, a in flags]
    templates += [await create_template(colleague.client, is_archived=True)]
    templates += [await create_template(colleague.client)]
    for user in (tenant, colleague):
        visible = [t for t in templates if t["is_shared"] or t["created_by"] == user.user_id]
        expected = [t["id"] for t in reversed(visible) if matches(t, query)]
        assert await listed(user, query) == expected, user.user_id


async def test_a_shared_template_is_read_listed_and_rendered_by_colleagues(
    tenant: Tenant, colleague: Tenant
) -> None:
    """A regression guard: sharing keeps working for the rest of the organization."""
    template = await create_template(tenant.client, is_shared=True)
    url = f"/email_template/{template['id']}/"
    assert ok(await colleague.client.get(url)) == template
    assert ok(await colleague.client.get("/email_template/"))["data"] == [template]
    rendered = ok(
        await colleague.client.get(f"{url}render/", params=await render_query(colleague.client))
    )
    assert rendered["subject"] == "Hello Jane"


async def test_template_events_stay_organization_wide(tenant: Tenant, colleague: Tenant) -> None:
    """A regression guard of a choice: the event log is the organization's, so a colleague's
    ``/event/`` shows a template that is not shared being created (as webhooks do)."""
    template = await create_template(tenant.client)
    params = {"object_type": "email_template", "object_id": template["id"]}
    [event] = ok(await colleague.client.get("/event/", params=params))["data"]
    assert (event["action"], event["data"]["id"]) == ("created", template["id"])


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_only_its_creator_changes_or_deletes_a_shared_template(
    tenant: Tenant, colleague: Tenant, method: str
) -> None:
    template = await create_template(tenant.client, is_shared=True)
    url = f"/email_template/{template['id']}/"
    body = {"name": "Taken over", "is_shared": False} if method == "PUT" else None
    response = await colleague.client.request(method, url, json=body)
    assert (response.status_code, response.json()) == (403, FORBIDDEN)
    assert ok(await colleague.client.get(url)) == template
    ok(await tenant.client.request(method, url, json=body))
