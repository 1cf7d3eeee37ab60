"""``x-http-method-override`` and ``_params`` (Close's "Specifying filter parameters").

Close: filters "can also be specified in a JSON-encoded dictionary in the request body under
the ``_params`` key. Since GET requests with a request body are against the specification, we
support the ``x-http-method-override`` HTTP header", which "can also be used for clients that
have issues with request methods other than GET and POST". Postroom answered such a POST with
405 Method Not Allowed.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, field_errors, ok

GET = {"x-http-method-override": "GET"}


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["data"]]


async def test_a_post_overridden_to_get_lists_with_the_params_of_its_body(
    tenant: Tenant,
) -> None:
    lead, other = await create_lead(tenant.client), await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"])
    await create_email(tenant.client, other["id"])
    params = {"lead_id": lead["id"], "_fields": "id,lead_id"}
    read = ok(await tenant.client.get("/activity/", params=params))
    overridden = ok(await tenant.client.post("/activity/", json={"_params": params}, headers=GET))
    assert (
        overridden
        == read
        == {"data": [{"id": email["id"], "lead_id": lead["id"]}], "has_more": False}
    )


async def test_a_list_in_params_is_the_parameter_repeated(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    emails = [await create_email(tenant.client, lead["id"]) for _ in range(3)]
    wanted = [emails[0]["id"], emails[2]["id"]]
    body = {"_params": {"id__in": wanted, "_limit": 10}}
    listed = ok(await tenant.client.post("/activity/email/", json=body, headers=GET))
    assert sorted(ids(listed)) == sorted(wanted)


async def test_params_add_to_the_query_string(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    await create_email(tenant.client, lead["id"])
    body = {"_params": {"_fields": "id"}}
    url = f"/activity/email/?lead_id={lead['id']}"
    listed = ok(await tenant.client.post(url, json=body, headers=GET))
    assert [set(item) for item in listed["data"]] == [{"id"}]


async def test_a_single_object_is_read_with_an_overridden_post(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    read = ok(await tenant.client.post(f"/lead/{lead['id']}/", headers=GET))
    assert read == ok(await tenant.client.get(f"/lead/{lead['id']}/"))


async def test_a_post_overridden_to_put_updates(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    headers = {"x-http-method-override": "put"}
    updated = ok(
        await tenant.client.post(f"/lead/{lead['id']}/", json={"name": "New"}, headers=headers)
    )
    assert updated["name"] == "New"
    assert ok(await tenant.client.get(f"/lead/{lead['id']}/"))["name"] == "New"


async def test_a_post_overridden_to_delete_deletes(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    headers = {"x-http-method-override": "DELETE"}
    assert ok(await tenant.client.post(f"/lead/{lead['id']}/", headers=headers)) == {}
    assert (await tenant.client.get(f"/lead/{lead['id']}/")).status_code == 404


async def test_an_override_to_post_is_a_post(tenant: Tenant) -> None:
    headers = {"x-http-method-override": "POST"}
    lead = ok(await tenant.client.post("/lead/", json={"name": "Posted"}, headers=headers))
    assert lead["name"] == "Posted"


@pytest.mark.parametrize("method", ["PATCH", "HEAD", "OPTIONS", "TRACE", "FETCH", ""])
async def test_another_method_is_a_400_and_changes_nothing(tenant: Tenant, method: str) -> None:
    lead = await create_lead(tenant.client)
    headers = {"x-http-method-override": method}
    response = await tenant.client.post(f"/lead/{lead['id']}/", json={"name": "X"}, headers=headers)
    assert response.status_code == 400
    assert field_errors(response) == {}
    assert "x-http-method-override" in response.json()["errors"][0]
    assert ok(await tenant.client.get(f"/lead/{lead['id']}/"))["name"] == lead["name"]


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b'{"_params": [1]}',
        b'{"_params": "lead_id=x"}',
        b'{"_params": {"lead_id": {"nested": 1}}}',
        b'{"_params": {"lead_id": null}}',
        b'{"_params": {"id__in": [["a"]]}}',
    ],
)
async def test_a_bad_body_of_an_overridden_get_is_a_400(tenant: Tenant, content: bytes) -> None:
    response = await tenant.client.post("/activity/email/", content=content, headers=GET)
    assert response.status_code == 400
    body = response.json()
    assert body["field-errors"] == {}
    assert body["error"] == body["errors"][0]


async def test_bad_params_are_judged_as_the_query_string_would_be(tenant: Tenant) -> None:
    body = {"_params": {"_limit": 101}}
    response = await tenant.client.post("/activity/email/", json=body, headers=GET)
    assert "_limit" in field_errors(response)


async def test_a_nul_character_in_params_is_a_400(tenant: Tenant) -> None:
    body = {"_params": {"lead_id": "lead_\x00"}}
    response = await tenant.client.post("/activity/email/", json=body, headers=GET)
    assert response.status_code == 400


async def test_without_the_header_a_post_to_a_list_stays_not_allowed(tenant: Tenant) -> None:
    response = await tenant.client.post("/activity/", json={"_params": {}})
    assert response.status_code == 405


async def test_the_header_is_ignored_on_other_methods(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    headers = {"x-http-method-override": "DELETE"}
    assert ok(await tenant.client.get(f"/lead/{lead['id']}/", headers=headers))["id"] == lead["id"]
    assert ok(await tenant.client.get(f"/lead/{lead['id']}/"))["id"] == lead["id"]


async def test_an_overridden_request_needs_the_api_key(tenant: Tenant, anonymous: Any) -> None:
    lead = await create_lead(tenant.client)
    headers = {"x-http-method-override": "DELETE"}
    assert (await anonymous.post(f"/lead/{lead['id']}/", headers=headers)).status_code == 401
    assert ok(await tenant.client.get(f"/lead/{lead['id']}/"))["id"] == lead["id"]
