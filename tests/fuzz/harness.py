"""Shared pieces of the schemathesis fuzz tests: the budget, the ids to aim at, sending a case.

Each test fuzzes one API operation through the app in-process (``httpx.ASGITransport`` on the
session's event loop and database, like every other test), authenticated with a real API key.
Generated path parameters, query filters and body references (``lead_id``, ``{id}``...) are
replaced, on some examples, by ids of objects that exist in the caller's organization, so that
the fuzzer also reaches the code behind the 404s.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckFunction, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from postroom.app import create_app
from postroom.config import Settings
from postroom.db import Database
from tests.conftest import Tenant
from tests.helpers import add_sending_account, create_email, create_lead, ok, upload_file

EXAMPLES = int(os.environ.get("POSTROOM_FUZZ_EXAMPLES", "6"))
"""Generated calls per operation, valid and invalid ones mixed (``make fuzz`` raises it)."""
RANDOM = os.environ.get("POSTROOM_FUZZ_RANDOM", "") == "1"
"""Random seeds (``make fuzz``); otherwise the examples are the same on every run."""

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=not RANDOM,
    database=None,
    deadline=None,
    print_blob=True,
    # The seeded tenant and its objects are meant to be shared by all examples; the
    # generated schemas are large, so the data-size and speed health checks only add noise.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)

AnyCase = Case[Any]
Operation = APIOperation[Any, Any, Any, Any]

# Not ``negative_data_rejection``: Postroom ignores unknown fields (the contract's choice, as
# real clients post whole objects back), so a body made invalid only by an extra property is
# rightly a 200. Not the stateful checks (``use_after_free``...): each call stands alone.
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

PUBLIC_WEBHOOK_URL = "https://93.184.216.34/hooks/fuzz"
"""A literal public address: creating the seeded subscription needs no DNS."""
UNSUBSCRIBED = "unsubscribed@fuzz.example.com"
"""On the seeded organization's unsubscribe list (``{email_address}`` in paths aims at it)."""

_RESOURCE_ID = {
    "lead": "lead_id",
    "contact": "contact_id",
    "email": "email_id",
    "emailthread": "thread_id",
    "task": "task_id",
    "email_template": "template_id",
    "user": "user_id",
    "organization": "organization_id",
    "connected_account": "account_id",
    "webhook": "subscription_id",
    "event": "event_id",
}
"""Close names every path id ``{id}``: the segment before it says which object it is."""

_FIELD_ID = {
    "lead_id": "lead_id",
    "contact_id": "contact_id",
    "user_id": "user_id",
    "assigned_to": "user_id",
    "organization_id": "organization_id",
    "template_id": "template_id",
    "in_reply_to_id": "email_id",
    "email_id": "email_id",
    "thread_id": "thread_id",
    "email_account_id": "account_id",
    "account_id": "account_id",
}
"""Query and body fields that reference an object, and the kind of object."""


HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


@cache
def postroom_document() -> dict[str, Any]:
    """Postroom's OpenAPI document, as the app builds it (no database needed)."""
    document: dict[str, Any] = create_app(Settings(run_dispatcher=False)).openapi()
    return document


def operation_labels(document: dict[str, Any]) -> list[str]:
    """``METHOD /path`` of every operation of ``document``."""
    return [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    ]


@dataclass(frozen=True)
class Seeded:
    """A tenant and the ids of one object of each kind in its organization."""

    tenant: Tenant
    ids: Mapping[str, str]


async def seed(tenant: Tenant, database: Database) -> Seeded:
    """A lead with a contact, a draft email (and so a thread), a task, a template, a
    webhook subscription (and so an event), an uploaded file, a sending account and an
    unsubscribed address."""
    client = tenant.client
    lead = await create_lead(client)
    email = await create_email(client, lead["id"])
    task = ok(await client.post("/task/", json={"lead_id": lead["id"], "text": "Call back"}))
    template = ok(
        await client.post(
            "/email_template/", json={"name": "Intro", "subject": "Hi", "body": "<p>Hi</p>"}
        )
    )
    webhook = await client.post(
        "/webhook/",
        json={"url": PUBLIC_WEBHOOK_URL, "events": [{"object_type": "lead", "action": "created"}]},
    )
    assert webhook.status_code == 201, webhook.text
    attachment = await upload_file(client, "notes.txt", "text/plain", b"Call back on Monday")
    unsubscribed = await client.post("/unsubscribe/email/", json={"email": UNSUBSCRIBED})
    assert unsubscribed.status_code == 201, unsubscribed.text
    events = ok(await client.get("/event/"))["data"]
    ids = {
        "lead_id": lead["id"],
        "contact_id": lead["contacts"][0]["id"],
        "email_id": email["id"],
        "thread_id": email["thread_id"],
        "task_id": task["id"],
        "template_id": template["id"],
        "subscription_id": webhook.json()["id"],
        "event_id": events[0]["id"],
        "user_id": tenant.user_id,
        "organization_id": tenant.organization_id,
        "account_id": await add_sending_account(database, tenant.user_email),
        "file_id": attachment["url"].split("/")[-2],
        "email_address": UNSUBSCRIBED,
    }
    return Seeded(tenant, ids)


def without_required(node: Any) -> Any:
    """``node`` with every object schema's ``required`` list dropped (a property named
    ``required`` inside ``properties`` stays)."""
    if isinstance(node, list):
        return [without_required(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: without_required(value)
        for key, value in node.items()
        if not (key == "required" and isinstance(value, list))
    }


@dataclass(frozen=True)
class Spec:
    """An OpenAPI document to fuzz, and its copy without ``required`` lists: a request with
    ``_fields`` gets objects with only those fields, which the full document cannot describe,
    so its answers are checked against the copy (types, formats, statuses: all the rest)."""

    full: OpenApiSchema
    partial: OpenApiSchema
    base_url: str
    _strategies: dict[str, st.SearchStrategy[AnyCase]] = field(default_factory=dict)

    @classmethod
    def from_document(cls, document: dict[str, Any], base_url: str) -> Spec:
        return cls(
            schemathesis.openapi.from_dict(document),
            schemathesis.openapi.from_dict(without_required(document)),
            base_url,
        )

    def cases(self, label: str) -> st.SearchStrategy[AnyCase]:
        """Valid and invalid requests for the operation ``label`` (``GET /lead/``)."""
        if label not in self._strategies:
            operation: Operation | None = self.full.find_operation_by_label(label)
            assert operation is not None, label
            self._strategies[label] = st.one_of(
                operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
            )
        return self._strategies[label]

    def validate(self, case: AnyCase, response: httpx.Response) -> None:
        if "_fields" in (case.query or {}):
            partial: Operation | None = self.partial.find_operation_by_label(case.operation.label)
            assert partial is not None
            case = partial.Case(
                path_parameters=case.path_parameters,
                query=case.query,
                headers=case.headers,
                body=case.body,
                media_type=case.media_type,
            )
        case.validate_response(response, checks=CHECKS)


def path_id_kind(path: str, name: str) -> str | None:
    if name != "id":
        return name
    match = re.search(r"/([a-z_]+)/\{id\}", path)
    return _RESOURCE_ID.get(match.group(1)) if match else None


def aim_at_real_objects(case: AnyCase, ids: Mapping[str, str], data: st.DataObject) -> None:
    """Replace, where the draws say so, generated references by ids that exist."""
    for name in list(case.path_parameters or {}):
        real = ids.get(path_id_kind(case.path, name) or "")
        if real is not None and data.draw(st.booleans(), label=f"real {name}"):
            case.path_parameters[name] = real
    for container in (case.query, case.body):
        if not isinstance(container, dict):
            continue
        for name, kind in _FIELD_ID.items():
            if name in container and data.draw(st.booleans(), label=f"real {name}"):
                container[name] = ids[kind]


def wire_text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("latin-1")


def wire_body(body: object) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    assert isinstance(body, str), f"unexpected body {type(body)}"
    return body.encode()


async def send(client: httpx.AsyncClient, case: AnyCase, base_url: str) -> httpx.Response:
    """Send ``case`` as schemathesis' own ``requests`` transport would encode it, through the
    tenant's client and so with its API key."""
    kwargs = case.as_transport_kwargs(base_url=base_url)
    kwargs.pop("auth", None)
    prepared = requests.Request(**kwargs).prepare()
    headers = {name: wire_text(value) for name, value in prepared.headers.items()}
    return await client.request(
        str(prepared.method), str(prepared.url), headers=headers, content=wire_body(prepared.body)
    )


async def fuzz_once(spec: Spec, label: str, seeded: Seeded, data: st.DataObject) -> None:
    """Draw one request for the operation, aim it, send it, check the answer."""
    case = data.draw(spec.cases(label), label="case")
    aim_at_real_objects(case, seeded.ids, data)
    response = await send(seeded.tenant.client, case, spec.base_url)
    spec.validate(case, response)
