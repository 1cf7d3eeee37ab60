"""An email naming a template without a body gets the template rendered in (point 4)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, field_errors, ok, upload_file


async def create_template(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Intro",
        "subject": "Hello {{ contact.first_name|default('there') }} at {{ lead.display_name }}",
        "body": "<p>Hi {{ contact.first_name }},</p><p>{{ user.full_name }} here.</p>",
        **fields,
    }
    return ok(await client.post("/email_template/", json=body))


async def test_template_is_rendered_for_the_emails_contact_lead_and_user(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    lead = await create_lead(tenant.client)
    email = await create_email(
        tenant.client, lead["id"], template_id=template["id"], body_text=None,
        subject=None, contact_id=lead["contacts"][0]["id"],
    )  # fmt: skip
    assert email["subject"] == "Hello Jane at Acme Corp"
    assert email["body_html"] == "<p>Hi Jane,</p><p>Jane Sender here.</p>"
    assert email["body_text"] == "Hi Jane,\n\nJane Sender here."
    assert email["template_id"] == template["id"]
    assert email["template_name"] == "Intro"


async def test_the_contact_is_found_by_the_first_recipient(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    lead = await create_lead(tenant.client)
    payload = {"lead_id": lead["id"], "status": "draft", "template_id": template["id"]}
    payload["to"] = ["Jane <jane@acme.example.com>"]
    email = ok(await tenant.client.post("/activity/email/", json=payload))
    assert email["subject"] == "Hello Jane at Acme Corp"


async def test_without_a_contact_missing_values_render_empty(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    lead = await create_lead(tenant.client, contacts=[])
    payload = {"lead_id": lead["id"], "status": "draft", "template_id": template["id"]}
    email = ok(await tenant.client.post("/activity/email/", json=payload))
    assert email["subject"] == "Hello there at Acme Corp"
    assert email["body_html"].startswith("<p>Hi ,</p>")


async def test_a_posted_subject_wins_over_the_templates(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    lead = await create_lead(tenant.client)
    payload = {"lead_id": lead["id"], "status": "draft", "template_id": template["id"]}
    email = ok(await tenant.client.post("/activity/email/", json={**payload, "subject": "Mine"}))
    assert email["subject"] == "Mine"
    assert "Jane" in email["body_html"]


async def test_a_posted_body_means_no_rendering(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"], template_id=template["id"])
    assert email["body_text"] == "Hi there"
    assert email["subject"] == "Hello"
    assert email["template_name"] == "Intro"


async def test_the_templates_attachments_are_added(tenant: Tenant) -> None:
    item = await upload_file(tenant.client, "deck.pdf", "application/pdf", b"%PDF deck")
    template = await create_template(tenant.client, attachments=[item])
    lead = await create_lead(tenant.client)
    payload = {"lead_id": lead["id"], "status": "draft", "template_id": template["id"]}
    email = ok(await tenant.client.post("/activity/email/", json=payload))
    assert [a["url"] for a in email["attachments"]] == [item["url"]]


async def test_an_unknown_or_foreign_template_is_a_field_error(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = await create_template(other_tenant.client)
    lead = await create_lead(tenant.client)
    for template_id in ("tmpl_missing", foreign["id"]):
        payload = {"lead_id": lead["id"], "status": "draft", "template_id": template_id}
        response = await tenant.client.post("/activity/email/", json=payload)
        assert "template_id" in field_errors(response)


async def test_a_draft_that_names_a_template_later_gets_it_rendered(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    lead = await create_lead(tenant.client)
    payload = {"lead_id": lead["id"], "status": "draft", "contact_id": lead["contacts"][0]["id"]}
    draft = ok(await tenant.client.post("/activity/email/", json=payload))
    rendered = ok(
        await tenant.client.put(
            f"/activity/email/{draft['id']}/", json={"template_id": template["id"]}
        )
    )
    assert rendered["subject"] == "Hello Jane at Acme Corp"
    assert rendered["body_preview"] == "Hi Jane, Jane Sender here."


async def test_a_subject_with_line_breaks_from_the_template_is_folded(tenant: Tenant) -> None:
    template = await create_template(tenant.client, subject="A {{ lead.description }} B")
    lead = await create_lead(tenant.client, description="x\r\nBcc: victim@example.com")
    payload = {"lead_id": lead["id"], "status": "draft", "template_id": template["id"]}
    email = ok(await tenant.client.post("/activity/email/", json=payload))
    assert "\n" not in email["subject"]
    assert "\r" not in email["subject"]


async def draft_with_template(tenant: Tenant, template: dict[str, Any]) -> dict[str, Any]:
    lead = await create_lead(tenant.client)
    payload = {"lead_id": lead["id"], "status": "draft", "template_id": template["id"]}
    return ok(await tenant.client.post("/activity/email/", json=payload))


async def put(tenant: Tenant, email: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return ok(await tenant.client.put(f"/activity/email/{email['id']}/", json=fields))


def urls(email: dict[str, Any]) -> list[str]:
    return [item["url"] for item in email["attachments"]]


async def test_switching_templates_swaps_their_attachments(tenant: Tenant) -> None:
    """Subject and body are replaced by the new template's; so are the attachments that came
    with the old one (they used to pile up, and the sent email carried them all)."""
    deck = await upload_file(tenant.client, "deck.pdf", "application/pdf", b"%PDF deck")
    sheet = await upload_file(tenant.client, "sheet.txt", "text/plain", b"prices")
    first = await create_template(tenant.client, attachments=[deck])
    second = await create_template(
        tenant.client, name="Other", subject="Other", attachments=[sheet]
    )
    draft = await draft_with_template(tenant, first)
    assert urls(draft) == [deck["url"]]
    switched = await put(tenant, draft, template_id=second["id"])
    assert (urls(switched), switched["subject"]) == ([sheet["url"]], "Other")
    back = await put(tenant, draft, template_id=first["id"])
    assert urls(back) == [deck["url"]]
    assert urls(ok(await tenant.client.get(f"/activity/email/{draft['id']}/"))) == [deck["url"]]


async def test_attachments_the_client_added_stay_when_the_template_changes(
    tenant: Tenant,
) -> None:
    deck = await upload_file(tenant.client, "deck.pdf", "application/pdf", b"%PDF deck")
    mine = await upload_file(tenant.client, "mine.txt", "text/plain", b"my notes")
    first = await create_template(tenant.client, attachments=[deck])
    second = await create_template(tenant.client, name="Other")
    draft = await draft_with_template(tenant, first)
    draft = await put(tenant, draft, attachments=[*draft["attachments"], mine])
    assert urls(draft) == [deck["url"], mine["url"]]
    assert urls(await put(tenant, draft, template_id=second["id"])) == [mine["url"]]


async def test_a_template_attachment_has_the_fields_of_a_posted_one(tenant: Tenant) -> None:
    deck = await upload_file(tenant.client, "deck.pdf", "application/pdf", b"%PDF deck")
    template = await create_template(tenant.client, attachments=[deck])
    lead = await create_lead(tenant.client)
    posted = await create_email(tenant.client, lead["id"], status="draft", attachments=[deck])
    rendered = await draft_with_template(tenant, template)
    assert rendered["attachments"] == posted["attachments"]


async def test_a_template_attachment_posted_without_size_gives_the_email_its_size(
    tenant: Tenant,
) -> None:
    """Close requires ``size`` on an email's attachments; a template's attachment posted
    without one still gives the email the uploaded size, so the draft read back can be put
    back whole."""
    deck = await upload_file(tenant.client, "deck.pdf", "application/pdf", b"%PDF deck")
    unsized = {"url": deck["url"], "filename": "deck.pdf"}
    template = await create_template(tenant.client, attachments=[unsized])
    draft = await draft_with_template(tenant, template)
    assert [(item["size"], item["content_type"]) for item in draft["attachments"]] == [
        (deck["size"], "application/pdf")
    ]
    assert (await put(tenant, draft, **{**draft, "subject": "Changed"}))["subject"] == "Changed"


async def test_a_template_the_email_already_carries_is_not_attached_twice(
    tenant: Tenant,
) -> None:
    deck = await upload_file(tenant.client, "deck.pdf", "application/pdf", b"%PDF deck")
    template = await create_template(tenant.client, attachments=[deck])
    lead = await create_lead(tenant.client)
    payload = {"lead_id": lead["id"], "status": "draft", "template_id": template["id"]}
    email = ok(
        await tenant.client.post("/activity/email/", json={**payload, "attachments": [deck]})
    )
    assert urls(email) == [deck["url"]]


async def test_dropping_the_template_drops_its_name(tenant: Tenant) -> None:
    """``template_id: null`` keeps what was rendered (it is the draft's text now) but no
    longer names the template."""
    template = await create_template(tenant.client)
    draft = await draft_with_template(tenant, template)
    dropped = await put(tenant, draft, template_id=None)
    assert (dropped["template_id"], dropped["template_name"]) == (None, None)
    assert dropped["body_html"] == draft["body_html"]


async def test_an_empty_posted_subject_gets_the_templates(tenant: Tenant) -> None:
    template = await create_template(tenant.client)
    lead = await create_lead(tenant.client)
    payload = {"lead_id": lead["id"], "status": "draft", "template_id": template["id"]}
    email = ok(await tenant.client.post("/activity/email/", json={**payload, "subject": ""}))
    assert email["subject"] == "Hello there at Acme Corp"  # no contact: the default


# --- templates that are not shared (docs/decisions.md, "Templates") ----------------------------


async def name_template(
    tenant: Tenant, method: str, lead_id: str, template_id: str
) -> httpx.Response:
    """``template_id`` on a new draft (POST) or on an existing one (PUT)."""
    if method == "POST":
        payload = {"lead_id": lead_id, "status": "draft", "template_id": template_id}
        return await tenant.client.post("/activity/email/", json=payload)
    draft = await create_email(tenant.client, lead_id)
    url = f"/activity/email/{draft['id']}/"
    response = await tenant.client.put(url, json={"template_id": template_id})
    assert ok(await tenant.client.get(url)) == draft
    return response


@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_a_colleagues_template_that_is_not_shared_is_an_unknown_template(
    tenant: Tenant, colleague: Tenant, method: str
) -> None:
    template = await create_template(tenant.client)
    lead = await create_lead(colleague.client)
    theirs = await name_template(colleague, method, lead["id"], template["id"])
    unknown = await name_template(colleague, method, lead["id"], "tmpl_doesnotexist")
    assert (
        field_errors(theirs)
        == field_errors(unknown)
        == {"template_id": "Email template not found."}
    )


async def test_a_colleague_uses_a_shared_template(tenant: Tenant, colleague: Tenant) -> None:
    """A regression guard: sharing a template keeps working for the rest of the organization."""
    template = await create_template(tenant.client, is_shared=True)
    email = await draft_with_template(colleague, template)
    assert (email["template_id"], email["template_name"]) == (template["id"], "Intro")
    assert email["body_html"].endswith("<p>Colin League here.</p>")


async def test_an_email_keeps_the_template_it_was_made_with_once_unshared(
    tenant: Tenant, colleague: Tenant
) -> None:
    """An email is a record: its rendered text, ``template_id`` and ``template_name`` stay, and
    its author learns nothing of what the template became. Reading it, or putting it back
    whole, does not look the template up again."""
    template = await create_template(tenant.client, is_shared=True)
    email = await draft_with_template(colleague, template)
    url = f"/email_template/{template['id']}/"
    private = {"is_shared": False, "name": "Secret plan", "subject": "Secret", "body": "Secret"}
    ok(await tenant.client.put(url, json=private))
    assert (await colleague.client.get(url)).status_code == 404
    email_url = f"/activity/email/{email['id']}/"
    assert ok(await colleague.client.get(email_url)) == email
    put_back = ok(await colleague.client.put(email_url, json=email))
    assert (put_back["template_id"], put_back["template_name"]) == (template["id"], "Intro")


async def test_a_draft_leaving_a_template_it_may_no_longer_see_keeps_its_attachments(
    tenant: Tenant, colleague: Tenant
) -> None:
    """What came with a template that is no longer shared is the draft's own: the colleague
    cannot see what the template carries now, so nothing is taken away."""
    deck = await upload_file(tenant.client, "deck.pdf", "application/pdf", b"%PDF deck")
    first = await create_template(tenant.client, is_shared=True, attachments=[deck])
    second = await create_template(tenant.client, name="Other", is_shared=True)
    draft = await draft_with_template(colleague, first)
    ok(await tenant.client.put(f"/email_template/{first['id']}/", json={"is_shared": False}))
    switched = await put(colleague, draft, template_id=second["id"])
    assert (urls(switched), switched["template_name"]) == ([deck["url"]], "Other")


@pytest.mark.parametrize(
    ("part", "source"),
    [("subject", "{{ 1/0 }}"), ("subject", "{{ 'x' * 1001 }}"), ("body", "{{ 'x' * 10**7 }}")],
    ids=["error", "subject over 1000 characters", "body too large"],
)
async def test_a_template_that_fails_to_render_is_a_400_on_template_id(
    tenant: Tenant, part: str, source: str
) -> None:
    """Not on ``subject`` or ``body``: the client sent neither (an email has no ``body``)."""
    template = await create_template(tenant.client, **{part: source})
    lead = await create_lead(tenant.client)
    body = {"lead_id": lead["id"], "status": "draft", "template_id": template["id"]}
    errors = field_errors(await tenant.client.post("/activity/email/", json=body))
    assert list(errors) == ["template_id"]
    assert errors["template_id"].startswith(f"The template's {part} could not be used: ")
    draft = await create_email(tenant.client, lead["id"])
    response = await tenant.client.put(
        f"/activity/email/{draft['id']}/", json={"template_id": template["id"]}
    )
    assert list(field_errors(response)) == ["template_id"]
