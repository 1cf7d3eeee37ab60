"""Email templates over HTTP: CRUD, paging, filters, rendering for a lead and contact (§1, §3)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from postroom.config import Settings
from tests.conftest import Tenant
from tests.helpers import create_lead, field_errors, ok, upload_file

TEMPLATE_FIELDS = {
    "id",
    "organization_id",
    "name",
    "subject",
    "body",
    "is_shared",
    "is_archived",
    "attachments",
    "created_by",
    "updated_by",
    "date_created",
    "date_updated",
}
RENDER_FIELDS = {
    "subject",
    "body",
    "email",
    "contact_id",
    "contact_display_name",
    "lead_id",
    "lead_display_name",
}
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
NOT_FOUND = {"error": "Empty query: EmailTemplate matching query does not exist."}


@pytest.fixture
async def attachment(tenant: Tenant) -> dict[str, Any]:
    """A file uploaded through the Files API (templates, like emails, only attach those)."""
    return await upload_file(tenant.client, "report.pdf", "application/pdf", b"%PDF report")


async def create_template(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Welcome",
        "subject": "Hello {{ contact.first_name }}",
        "body": "<p>Hi {{ contact.first_name|default('there') }},</p>",
        **fields,
    }
    return ok(await client.post("/email_template/", json=body))


async def render(
    client: httpx.AsyncClient, template_id: str, lead_id: str, contact_id: str
) -> httpx.Response:
    params = {"lead_id": lead_id, "contact_id": contact_id}
    return await client.get(f"/email_template/{template_id}/render/", params=params)


async def rendered_for_jane(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """Create a template and a lead with Jane Doe, and render the one for the other."""
    template = await create_template(client, **fields)
    lead = await create_lead(client)
    return ok(await render(client, template["id"], lead["id"], lead["contacts"][0]["id"]))


# --- create, read, update, delete --------------------------------------------------------------


async def test_created_template_has_every_field_of_the_spec(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    assert set(template) == TEMPLATE_FIELDS
    assert template["id"].startswith("tmpl_")
    assert template["organization_id"] == tenant.organization_id
    assert template["created_by"] == template["updated_by"] == tenant.user_id
    assert (template["is_shared"], template["is_archived"]) == (False, False)
    assert template["attachments"] == []


async def test_dates_have_microseconds_and_utc_offset(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    for name in ("date_created", "date_updated"):
        assert DATETIME.match(template[name]), template[name]


async def test_posted_fields_are_stored_as_given(
    tenant: Tenant, attachment: dict[str, Any]
) -> None:
    template = await create_template(
        tenant.client, is_shared=True, is_archived=True, attachments=[attachment]
    )
    fetched = ok(await tenant.client.get(f"/email_template/{template['id']}/"))
    assert fetched == template
    assert fetched["subject"] == "Hello {{ contact.first_name }}"
    assert fetched["body"] == "<p>Hi {{ contact.first_name|default('there') }},</p>"
    assert (fetched["is_shared"], fetched["is_archived"]) == (True, True)
    assert fetched["attachments"] == [attachment]


@pytest.mark.parametrize("missing", ["name", "subject", "body"])
async def test_name_subject_and_body_are_required_on_create(tenant: Tenant, missing: str) -> None:
    body = {"name": "Welcome", "subject": "Hello", "body": "<p>Hi</p>"}
    del body[missing]
    response = await tenant.client.post("/email_template/", json=body)
    assert missing in field_errors(response)


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": None},
        {"subject": 42},
        {"body": ["<p>Hi</p>"]},
        {"is_shared": "sometimes"},
        {"attachments": [{"filename": "no-url.pdf"}]},
        {"attachments": [{"url": "https://example.com/x.pdf", "filename": "x.pdf", "size": True}]},
        {"name": "a\u0000b"},
    ],
)
async def test_bad_fields_on_create_are_field_errors(tenant: Tenant, body: dict[str, Any]) -> None:
    full = {"name": "Welcome", "subject": "Hello", "body": "<p>Hi</p>", **body}
    response = await tenant.client.post("/email_template/", json=full)
    assert set(field_errors(response)) == set(body)


@pytest.mark.parametrize("part", ["subject", "body"])
@pytest.mark.parametrize("source", ["{{ contact.first_name ", "{% if x %}", "{{ x|nosuchfilter }}"])
async def test_a_template_that_does_not_parse_is_refused_naming_its_field(
    tenant: Tenant, part: str, source: str
) -> None:
    body = {"name": "Broken", "subject": "Hello", "body": "<p>Hi</p>", part: source}
    response = await tenant.client.post("/email_template/", json=body)
    errors = field_errors(response)
    assert set(errors) == {part}
    assert "syntax error" in errors[part]
    assert ok(await tenant.client.get("/email_template/"))["data"] == []


@pytest.mark.parametrize(
    "source",
    [
        "{{ " + "(" * 100 + "1" + ")" * 100 + " }}",
        "{% for a in 'x' %}" * 25 + "{% endfor %}" * 25,
        "{% if 1 %}" * 120 + "{% endif %}" * 120,
    ],
)
async def test_a_template_nested_too_deeply_is_a_400_on_its_field(
    tenant: Tenant, source: str
) -> None:
    response = await tenant.client.post(
        "/email_template/", json={"name": "Deep", "subject": "Hi", "body": source}
    )
    assert field_errors(response) == {
        "body": "The template nests tags, parentheses or brackets too deeply."
    }


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
        "{{ contact['__class__'] }}",
        "{% include 'other' %}",
    ],
)
async def test_a_template_reaching_for_python_internals_is_refused_on_save(
    tenant: Tenant, source: str
) -> None:
    response = await tenant.client.post(
        "/email_template/", json={"name": "Evil", "subject": "Hi", "body": source}
    )
    assert set(field_errors(response)) == {"body"}


async def test_get_returns_the_created_template(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    assert ok(await tenant.client.get(f"/email_template/{template['id']}/")) == template


async def test_put_changes_only_the_fields_sent(tenant: Tenant, attachment: dict[str, Any]) -> None:
    template = await create_template(tenant.client, attachments=[attachment])
    updated = ok(
        await tenant.client.put(f"/email_template/{template['id']}/", json={"is_archived": True})
    )
    assert updated["is_archived"] is True
    for name in ("name", "subject", "body", "is_shared", "attachments", "date_created"):
        assert updated[name] == template[name], name
    assert updated["date_updated"] >= template["date_updated"]
    assert ok(await tenant.client.get(f"/email_template/{template['id']}/")) == updated


async def test_put_replaces_subject_body_and_attachments(
    tenant: Tenant, attachment: dict[str, Any]
) -> None:
    template = await create_template(tenant.client, attachments=[attachment])
    change = {"subject": "New {{ lead.name }}", "body": "<b>New</b>", "attachments": []}
    updated = ok(await tenant.client.put(f"/email_template/{template['id']}/", json=change))
    assert {name: updated[name] for name in change} == change


async def test_put_of_the_whole_object_read_back_is_accepted(
    tenant: Tenant, attachment: dict[str, Any]
) -> None:
    template = await create_template(tenant.client, attachments=[attachment])
    updated = ok(await tenant.client.put(f"/email_template/{template['id']}/", json=template))
    assert {name: updated[name] for name in ("id", "name", "body", "attachments")} == {
        name: template[name] for name in ("id", "name", "body", "attachments")
    }


@pytest.mark.parametrize(
    "change",
    [
        {"body": "{% for %}"},
        {"subject": "{{ ''.__class__ }}"},
        {"name": None},
        {"body": None},
        {"is_archived": None},
    ],
)
async def test_a_bad_put_is_a_field_error_and_changes_nothing(
    tenant: Tenant, change: dict[str, Any]
) -> None:
    template = await create_template(tenant.client)
    change_with_name = {"name": "Renamed", **change}
    response = await tenant.client.put(f"/email_template/{template['id']}/", json=change_with_name)
    assert set(field_errors(response)) == set(change)
    assert ok(await tenant.client.get(f"/email_template/{template['id']}/")) == template


async def test_delete_answers_200_with_an_empty_object(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    assert ok(await tenant.client.delete(f"/email_template/{template['id']}/")) == {}
    response = await tenant.client.get(f"/email_template/{template['id']}/")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


async def test_unknown_template_is_not_found(tenant: Tenant) -> None:
    response = await tenant.client.get("/email_template/tmpl_doesnotexist/")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


# --- lists -------------------------------------------------------------------------------------


async def three_templates(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    return [await create_template(client, name=name) for name in ("First", "Second", "Third")]


async def test_list_is_data_and_has_more_newest_first(tenant: Tenant) -> None:
    templates = await three_templates(tenant.client)
    page = ok(await tenant.client.get("/email_template/"))
    assert set(page) == {"data", "has_more"}
    assert page["has_more"] is False
    assert page["data"] == list(reversed(templates))


async def test_has_more_is_exact(tenant: Tenant) -> None:
    await three_templates(tenant.client)
    first = ok(await tenant.client.get("/email_template/", params={"_limit": 2}))
    last = ok(await tenant.client.get("/email_template/", params={"_skip": 2, "_limit": 2}))
    exact = ok(await tenant.client.get("/email_template/", params={"_limit": 3}))
    assert (len(first["data"]), first["has_more"]) == (2, True)
    assert (len(last["data"]), last["has_more"]) == (1, False)
    assert (len(exact["data"]), exact["has_more"]) == (3, False)


async def test_paging_with_skip_visits_every_template_once(tenant: Tenant) -> None:
    templates = await three_templates(tenant.client)
    seen: list[str] = []
    while True:
        params = {"_skip": len(seen), "_limit": 1}
        page = ok(await tenant.client.get("/email_template/", params=params))
        seen += [template["id"] for template in page["data"]]
        if not page["has_more"]:
            break
    assert seen == [template["id"] for template in reversed(templates)]


async def test_limit_over_100_is_a_400(tenant: Tenant) -> None:
    response = await tenant.client.get("/email_template/", params={"_limit": 101})
    assert "_limit" in field_errors(response)


async def test_fields_limits_the_objects_of_a_list(tenant: Tenant) -> None:
    await create_template(tenant.client)
    page = ok(await tenant.client.get("/email_template/", params={"_fields": "id,name"}))
    assert [set(template) for template in page["data"]] == [{"id", "name"}]


async def test_fields_limits_a_single_template(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    params = {"_fields": "id,subject"}
    fetched = ok(await tenant.client.get(f"/email_template/{template['id']}/", params=params))
    assert fetched == {"id": template["id"], "subject": template["subject"]}


async def test_fields_limits_the_created_template(tenant: Tenant) -> None:
    response = await tenant.client.post(
        "/email_template/",
        params={"_fields": "id"},
        json={"name": "Welcome", "subject": "Hi", "body": "Hi"},
    )
    assert set(ok(response)) == {"id"}


@pytest.mark.parametrize(("value", "expected"), [("true", ["Archived"]), ("false", ["Active"])])
async def test_is_archived_filters_the_list(
    tenant: Tenant, value: str, expected: list[str]
) -> None:
    await create_template(tenant.client, name="Active")
    await create_template(tenant.client, name="Archived", is_archived=True)
    page = ok(await tenant.client.get("/email_template/", params={"is_archived": value}))
    assert [template["name"] for template in page["data"]] == expected


async def test_is_shared_filters_the_list(tenant: Tenant) -> None:
    await create_template(tenant.client, name="Private")
    await create_template(tenant.client, name="Shared", is_shared=True)
    page = ok(await tenant.client.get("/email_template/", params={"is_shared": "true"}))
    assert [template["name"] for template in page["data"]] == ["Shared"]


async def test_a_filter_that_is_not_a_boolean_is_a_400(tenant: Tenant) -> None:
    response = await tenant.client.get("/email_template/", params={"is_archived": "maybe"})
    assert "is_archived" in field_errors(response)


# --- rendering ---------------------------------------------------------------------------------


async def test_render_returns_the_fields_of_the_spec(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    lead = await create_lead(tenant.client)
    contact = lead["contacts"][0]
    rendered = ok(await render(tenant.client, template["id"], lead["id"], contact["id"]))
    assert rendered == {
        "subject": "Hello Jane",
        "body": "<p>Hi Jane,</p>",
        "email": "jane@acme.example.com",
        "contact_id": contact["id"],
        "contact_display_name": "Jane Doe",
        "lead_id": lead["id"],
        "lead_display_name": "Acme Corp",
    }
    assert set(rendered) == RENDER_FIELDS


async def test_render_fills_contact_lead_user_and_organization(tenant: Tenant) -> None:
    organization = ok(await tenant.client.get(f"/organization/{tenant.organization_id}/"))
    template = await create_template(
        tenant.client,
        body=(
            "{{ contact.first_name }}|{{ contact.last_name }}|{{ contact.name }}"
            "|{{ contact.display_name }}|{{ contact.title }}|{{ contact.email }}"
            "|{{ lead.display_name }}|{{ lead.name }}|{{ lead.url }}|{{ lead.description }}"
            "|{{ user.first_name }}|{{ user.last_name }}|{{ user.full_name }}|{{ user.email }}"
            "|{{ organization.name }}"
        ),
    )
    contacts = [{"name": "Mary Ann Smith", "title": "CTO", "emails": [{"email": "m@a.example"}]}]
    lead = await create_lead(
        tenant.client, contacts=contacts, url="https://acme.example", description="Big fish"
    )
    response = await render(tenant.client, template["id"], lead["id"], lead["contacts"][0]["id"])
    assert ok(response)["body"].split("|") == [
        "Mary",
        "Ann Smith",
        "Mary Ann Smith",
        "Mary Ann Smith",
        "CTO",
        "m@a.example",
        "Acme Corp",
        "Acme Corp",
        "https://acme.example",
        "Big fish",
        "Jane",
        "Sender",
        "Jane Sender",
        tenant.user_email,
        organization["name"],
    ]


async def test_default_fills_in_for_a_contact_without_name(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    lead = await create_lead(tenant.client, contacts=[{"emails": [{"email": "x@a.example"}]}])
    contact = lead["contacts"][0]
    rendered = ok(await render(tenant.client, template["id"], lead["id"], contact["id"]))
    assert rendered["body"] == "<p>Hi there,</p>"
    assert rendered["subject"] == "Hello"
    assert rendered["contact_display_name"] == "x@a.example"


async def test_missing_values_render_as_empty(tenant: Tenant) -> None:
    rendered = await rendered_for_jane(
        tenant.client, body="[{{ lead.url }}|{{ contact.title }}|{{ contact.nickname }}]"
    )
    assert rendered["body"] == "[||]"


async def test_email_is_null_for_a_contact_without_address(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    lead = await create_lead(tenant.client, contacts=[{"name": "No Mail"}])
    contact = lead["contacts"][0]
    rendered = ok(await render(tenant.client, template["id"], lead["id"], contact["id"]))
    assert rendered["email"] is None


async def test_the_body_is_html_escaped_but_the_subject_is_not(tenant: Tenant) -> None:
    template = await create_template(
        tenant.client, subject="{{ contact.name }}", body="<p>{{ contact.name }}</p>"
    )
    contacts = [{"name": "Tom <b>&</b> Jerry", "emails": [{"email": "t@a.example"}]}]
    lead = await create_lead(tenant.client, contacts=contacts)
    response = await render(tenant.client, template["id"], lead["id"], lead["contacts"][0]["id"])
    rendered = ok(response)
    assert rendered["body"] == "<p>Tom &lt;b&gt;&amp;&lt;/b&gt; Jerry</p>"
    assert rendered["subject"] == "Tom <b>&</b> Jerry"


async def test_a_rendered_subject_has_no_line_breaks(tenant: Tenant) -> None:
    rendered = await rendered_for_jane(
        tenant.client, subject="Hi\r\n{{ contact.first_name }}\n{% if true %}\rthere{% endif %}"
    )
    assert rendered["subject"] == "Hi Jane  there"


async def test_the_previewed_subject_is_the_subject_an_email_rendered_from_it_gets(
    tenant: Tenant,
) -> None:
    """A name may hold other line breaks (VT, NEL, LS) that an email's subject may not."""
    template = await create_template(tenant.client, subject=" {{ lead.name }}: Hi ")
    lead = await create_lead(tenant.client, name="Acme\u2028Corp\x0bEU\x85")
    contact_id = lead["contacts"][0]["id"]
    preview = ok(await render(tenant.client, template["id"], lead["id"], contact_id))
    email = ok(
        await tenant.client.post(
            "/activity/email/",
            json={"lead_id": lead["id"], "status": "draft", "template_id": template["id"]},
        )
    )
    assert preview["subject"] == email["subject"] == "Acme Corp EU : Hi"
    posted = {"lead_id": lead["id"], "status": "draft", "subject": preview["subject"]}
    ok(await tenant.client.post("/activity/email/", json=posted))


async def test_lead_display_name_falls_back_to_the_first_contact(tenant: Tenant) -> None:
    template = await create_template(tenant.client, body="{{ lead.display_name }}|{{ lead.name }}")
    lead = await create_lead(tenant.client, name=None)
    response = await render(tenant.client, template["id"], lead["id"], lead["contacts"][0]["id"])
    assert ok(response)["body"] == "Jane Doe|"
    assert ok(response)["lead_display_name"] == "Jane Doe"


@pytest.mark.parametrize(
    ("part", "source"),
    [
        ("body", "{{ contact|attr('__class__') }}"),
        ("body", "{{ '{0.__class__.__mro__}'.format(contact) }}"),
        ("subject", "{{ lead|attr('__init__')|attr('__globals__') }}"),
        ("body", "{{ contact.update({'name': 'x'}) }}"),
        ("body", "{{ 'x' * 10**9 }}"),
        (
            "body",
            "{% for a in lead.name * 999 %}{% for b in lead.name * 999 %}{% endfor %}{% endfor %}",
        ),
        ("subject", "{{ 1 / 0 }}"),
    ],
)
async def test_a_template_the_sandbox_refuses_renders_as_a_400_naming_the_part(
    tenant: Tenant, part: str, source: str
) -> None:
    template = await create_template(tenant.client, **{part: source})
    lead = await create_lead(tenant.client)
    response = await render(tenant.client, template["id"], lead["id"], lead["contacts"][0]["id"])
    assert set(field_errors(response)) == {part}


async def test_the_contact_must_belong_to_the_lead(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    lead = await create_lead(tenant.client)
    other_lead = await create_lead(tenant.client, name="Other")
    response = await render(
        tenant.client, template["id"], lead["id"], other_lead["contacts"][0]["id"]
    )
    assert set(field_errors(response)) == {"contact_id"}


@pytest.mark.parametrize("missing", ["lead_id", "contact_id"])
async def test_render_requires_lead_and_contact(tenant: Tenant, missing: str) -> None:
    template = await create_template(tenant.client)
    lead = await create_lead(tenant.client)
    params = {"lead_id": lead["id"], "contact_id": lead["contacts"][0]["id"]}
    del params[missing]
    response = await tenant.client.get(f"/email_template/{template['id']}/render/", params=params)
    assert missing in field_errors(response)


@pytest.mark.parametrize("extra", [{}, {"lead_id": "lead_x", "contact_id": "cont_x"}])
async def test_rendering_for_a_search_query_is_refused_naming_query(
    tenant: Tenant, extra: dict[str, str]
) -> None:
    """Close's second form (``query``, ``entry``, ``mode``) is not served, nor ignored."""
    template = await create_template(tenant.client)
    params = {"query": "name:Acme", "entry": "0", **extra}
    response = await tenant.client.get(f"/email_template/{template['id']}/render/", params=params)
    assert set(field_errors(response)) == {"query"}


async def test_an_unknown_lead_is_a_field_error(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    lead = await create_lead(tenant.client)
    response = await render(tenant.client, template["id"], "lead_nope", lead["contacts"][0]["id"])
    assert set(field_errors(response)) == {"lead_id", "lead"}


async def test_rendering_an_unknown_template_is_not_found(tenant: Tenant) -> None:
    lead = await create_lead(tenant.client)
    response = await render(tenant.client, "tmpl_nope", lead["id"], lead["contacts"][0]["id"])
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


# --- tenancy -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_another_organizations_template_is_not_found(
    tenant: Tenant, other_tenant: Tenant, method: str
) -> None:
    theirs = await create_template(other_tenant.client)
    response = await tenant.client.request(
        method,
        f"/email_template/{theirs['id']}/",
        json={"name": "Mine now"} if method == "PUT" else None,
    )
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert ok(await other_tenant.client.get(f"/email_template/{theirs['id']}/")) == theirs


async def test_another_organizations_template_cannot_be_rendered(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await create_template(other_tenant.client)
    lead = await create_lead(tenant.client)
    response = await render(tenant.client, theirs["id"], lead["id"], lead["contacts"][0]["id"])
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


async def test_another_organizations_lead_is_a_field_error(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    template = await create_template(tenant.client)
    theirs = await create_lead(other_tenant.client)
    response = await render(
        tenant.client, template["id"], theirs["id"], theirs["contacts"][0]["id"]
    )
    assert {"lead_id", "lead"} <= set(field_errors(response))


async def test_another_organizations_contact_is_a_field_error(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    template = await create_template(tenant.client)
    mine = await create_lead(tenant.client)
    theirs = await create_lead(other_tenant.client)
    response = await render(tenant.client, template["id"], mine["id"], theirs["contacts"][0]["id"])
    assert set(field_errors(response)) == {"contact_id"}


async def test_another_organizations_templates_never_appear_in_the_list(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await create_template(tenant.client)
    await create_template(other_tenant.client)
    page = ok(await tenant.client.get("/email_template/"))
    assert [template["id"] for template in page["data"]] == [mine["id"]]


async def test_an_attachment_posted_without_size_shows_the_uploaded_size(
    tenant: Tenant, attachment: dict[str, Any]
) -> None:
    unsized = {"url": attachment["url"], "filename": attachment["filename"]}
    template = await create_template(tenant.client, attachments=[unsized])
    assert template["attachments"] == [attachment]


async def test_attachments_must_be_files_uploaded_here(tenant: Tenant) -> None:
    external = {"url": "https://example.com/x.pdf", "filename": "x.pdf", "size": 1}
    response = await tenant.client.post(
        "/email_template/",
        json={"name": "T", "subject": "S", "body": "B", "attachments": [external]},
    )
    assert response.status_code == 400
    assert "attachments" in response.json()["field-errors"]


async def test_an_attachment_content_type_that_is_no_media_type_is_refused(
    tenant: Tenant, attachment: dict[str, Any]
) -> None:
    body = {"name": "T", "subject": "S", "body": "B"}
    for content_type in ("pdf", "text/plain\r\nBcc: x@example.com"):
        item = attachment | {"content_type": content_type}
        response = await tenant.client.post("/email_template/", json=body | {"attachments": [item]})
        assert set(field_errors(response)) == {"attachments"}


async def test_attachments_adding_up_to_more_than_an_email_may_carry_are_refused(
    tenant: Tenant, settings: Settings
) -> None:
    """Such a template could never be sent: every email rendered from it would be a 400."""
    chunk = b"x" * (settings.max_file_bytes // 2 + 1)
    first = await upload_file(tenant.client, "a.bin", "application/octet-stream", chunk)
    second = await upload_file(tenant.client, "b.bin", "application/octet-stream", chunk)
    body = {"name": "Heavy", "subject": "S", "body": "B", "attachments": [first, second]}
    assert set(field_errors(await tenant.client.post("/email_template/", json=body))) == {
        "attachments"
    }
    template = await create_template(tenant.client, attachments=[first])
    response = await tenant.client.put(
        f"/email_template/{template['id']}/", json={"attachments": [first, second]}
    )
    assert set(field_errors(response)) == {"attachments"}
