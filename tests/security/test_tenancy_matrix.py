"""Organization B can reach nothing of organization A, through any route (reliability point 4).

Organization A makes one of everything. Then, as organization B, every route the app serves
is called (the routes are read from ``app.routes``, so a new route gets a test id of its own):

- routes with a path parameter, with A's object of the matching kind: 404, and A's object
  unchanged afterwards;
- lists, with and without filters naming A's ids: nothing of A anywhere in the response;
- bulk updates (``PUT /task/``), with each filter of the list naming A's objects: nothing of
  A changes;
- creates and updates that reference other objects, with A's ids: a 400 field error;
- the signed upload of A's grant, the download of A's file, and the open-tracking pixel.

A route the matrix does not know how to call (a new path parameter, method, list filter or
create) fails ``test_the_matrix_knows_every_route`` and its own test.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from postroom.app import create_app
from postroom.config import Settings
from postroom.db import Database
from postroom.kit.ids import new_id
from postroom.models import EmailActivity
from tests.conftest import Tenant, create_tenant
from tests.helpers import add_sending_account, create_email, create_lead, ok, upload_file

BASE = "http://testserver"
API = "/api/v1/"
PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")
DOCS_ROUTES = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
"""FastAPI's own pages: they serve no organization's data."""
PUBLIC_WEBHOOK_URL = "https://93.184.216.34/hooks/"
"""A public IP literal: the webhook URL check needs no DNS for it."""
FILE_BYTES = b"%PDF-1.7 organization A's plan\n" * 8
OPENED_AT = "2026-01-02T03:04:05.000000+00:00"

Route = tuple[str, str]


# -- the routes ----------------------------------------------------------------------------------


def served_routes(app: FastAPI) -> list[Route]:
    """Every (method, path) the app serves, HEAD left out (it mirrors GET)."""
    routes = []
    for route in iter_route_contexts(app.routes):
        path = route.path_format
        for method in sorted(route.methods or ()):
            if method != "HEAD" and path is not None:
                routes.append((method, path))
    return routes


def parameters_of(path: str) -> list[str]:
    return PARAMETER.findall(path)


def filled(path: str, values: tuple[str, ...]) -> str:
    """``path`` with its parameters replaced by ``values``, in order."""
    remaining = iter(values)
    return PARAMETER.sub(lambda _match: next(remaining), path)


ROUTE_SOURCE = create_app(Settings(run_dispatcher=False))
"""An app built at import time, so that each route gets a test id of its own."""
ROUTES = served_routes(ROUTE_SOURCE)


def openapi_parameters(method: str, path: str, where: str) -> list[str]:
    """The names of the route's parameters in ``where`` (``query``, ``header``)."""
    operation = ROUTE_SOURCE.openapi()["paths"].get(path, {}).get(method.lower(), {})
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == where]


PARAMETER_KINDS = {
    "organization_id": "organization",
    "user_id": "user",
    "lead_id": "lead",
    "contact_id": "contact",
    "email_id": "email",
    "thread_id": "thread",
    "task_id": "task",
    "template_id": "template",
    "file_id": "file",
    "filename": "filename",
    "subscription_id": "webhook",
    "account_id": "account",
    "event_id": "event",
    "token": "token",
    "email_address": "unsubscribed",
}
"""Path parameter → the kind of A's object it names."""

CHECKED_BY_LIST: dict[str, str] = {
    "/api/v1/unsubscribe/email/{email_address}/": "/api/v1/unsubscribe/email/",
}
"""Object routes with no GET of their own (Close has none): A's list shows the object is
untouched."""

PUT_BODIES: dict[str, dict[str, Any]] = {
    "lead": {"name": "Taken over", "description": "by organization B"},
    "contact": {"name": "Taken over"},
    "email": {"subject": "Taken over", "opens": [{"opened_at": OPENED_AT}]},
    "task": {"text": "Taken over", "is_complete": True},
    "template": {"name": "Taken over", "subject": "Taken over"},
    "webhook": {"status": "paused"},
    "organization": {"name": "Taken over"},
}
"""A valid update for each kind, so a 404 cannot hide behind a 400."""

BULK_UPDATES: dict[str, dict[str, Any]] = {"/api/v1/task/": {"is_complete": True}}
"""Bulk updates (a PUT on a list: its filters choose the objects), each with a valid body."""

SPECIAL_ROUTES = frozenset(
    {("POST", "/api/v1/files/upload/{file_id}/"), ("GET", "/t/o/{token}.gif")}
)
"""Routes authorized by something else than the API key: each has a test of its own below."""

NO_OBJECT_CREATES = frozenset(
    {"/api/v1/files/upload/", "/api/v1/lead/", "/api/v1/webhook/", "/api/v1/unsubscribe/email/"}
)
"""Creates whose bodies need name no other object (a lead's or webhook's may still name its
organization: ``REFERENCE_FIELDS``)."""

REFERENCE_FIELDS: dict[Route, tuple[str, ...]] = {
    ("POST", "/api/v1/activity/email/"): (
        "lead_id", "contact_id", "user_id", "in_reply_to_id", "template_id",
        "email_account_id", "account_id", "attachments", "created_by", "organization_id",
    ),
    ("PUT", "/api/v1/activity/email/{email_id}/"): (
        "contact_id", "user_id", "in_reply_to_id", "template_id", "email_account_id",
        "account_id", "attachments", "organization_id",
    ),
    ("POST", "/api/v1/lead/"): ("organization_id",),
    ("PUT", "/api/v1/lead/{lead_id}/"): ("organization_id",),
    ("POST", "/api/v1/contact/"): ("lead_id", "organization_id"),
    ("PUT", "/api/v1/contact/{contact_id}/"): ("organization_id",),
    ("POST", "/api/v1/task/"): ("lead_id", "assigned_to", "organization_id"),
    ("PUT", "/api/v1/task/{task_id}/"): ("assigned_to", "organization_id"),
    ("PUT", "/api/v1/task/"): ("assigned_to",),
    ("POST", "/api/v1/email_template/"): ("attachments", "organization_id"),
    ("PUT", "/api/v1/email_template/{template_id}/"): ("attachments", "organization_id"),
    ("POST", "/api/v1/webhook/"): ("organization_id",),
    ("PUT", "/api/v1/webhook/{subscription_id}/"): ("organization_id",),
    ("GET", "/api/v1/email_template/{template_id}/render/"): ("lead_id", "contact_id"),
}  # fmt: skip
"""Requests whose body (or query) names other objects: each field, given A's object, is a 400."""

ID_FILTERS = frozenset(
    {
        "lead_id",
        "lead_id__in",
        "contact_id",
        "contact_id__in",
        "user_id",
        "user_id__in",
        "organization_id",
        "id__in",
        "thread_id",
        "assigned_to",
        "object_id",
        "_cursor",
        "id",
        "request_id",
    }
)
OTHER_FILTERS = frozenset(
    {
        "_skip", "_limit", "_fields", "status", "_type", "_type__in", "_order_by", "is_complete",
        "view", "object_type", "action", "is_archived", "is_shared", "date", "due_date",
        "thread_emails", "format", "query",
    }
)  # fmt: skip
DATE_BOUND = re.compile(r"__(gt|gte|lt|lte)$")
LIST_EXTRAS: dict[str, dict[str, str]] = {"/api/v1/task/": {"_type": "all"}}
"""Parameters added to every call of a list, so it shows all it can (every task type)."""
SINGLE_LEAD_FILTERS: dict[str, frozenset[str]] = {
    "/api/v1/activity/": frozenset(
        {"user_id", "user_id__in", "contact_id", "contact_id__in", "_type", "_type__in"}
    ),
}
"""Filters a list takes with exactly one ``lead_id`` only: sent with A's lead."""
REFUSED_FILTERS = frozenset({"organization_id"})
"""Filters whose value naming A's object is a 400 on that filter (never a page)."""

OBJECT_QUERIES: dict[str, Callable[[World], dict[str, str]]] = {
    "/api/v1/email_template/{template_id}/render/": lambda world: world.b_render_query(),
}
"""Required query parameters of object routes, filled with B's own objects."""


def is_docs(route: Route) -> bool:
    return route[1] in DOCS_ROUTES


def object_routes() -> list[Route]:
    return [r for r in ROUTES if parameters_of(r[1]) and r not in SPECIAL_ROUTES]


def list_routes() -> list[str]:
    return [p for m, p in ROUTES if m == "GET" and not parameters_of(p) and not is_docs((m, p))]


def create_routes() -> list[str]:
    return [p for m, p in ROUTES if m == "POST" and not parameters_of(p)]


def bulk_routes() -> list[str]:
    return [p for m, p in ROUTES if m == "PUT" and not parameters_of(p)]


def plain_creates() -> list[str]:
    """Creates that need name no other object (and any create the matrix does not know yet)."""
    return [
        path
        for path in create_routes()
        if ("POST", path) not in REFERENCE_FIELDS or path in NO_OBJECT_CREATES
    ]


def reference_cases() -> list[tuple[str, str, str]]:
    return [(m, p, name) for (m, p), names in REFERENCE_FIELDS.items() for name in names]


def idempotent_creates() -> list[str]:
    return [
        p for p in create_routes() if "Idempotency-Key" in openapi_parameters("POST", p, "header")
    ]


def route_id(route: Route) -> str:
    return f"{route[0]} {route[1]}"


# -- organization A's world ----------------------------------------------------------------------


@dataclass
class World:
    """A's objects by kind, B's own objects, and every string that would betray A."""

    a: Tenant
    b: Tenant
    ids: dict[str, list[str]]
    file_item: dict[str, Any]
    b_own: dict[str, str]
    cursor: str | None
    markers: set[str] = field(default_factory=set)
    snapshots: dict[str, bytes] = field(default_factory=dict)

    def one(self, kind: str) -> str:
        return self.ids[kind][0]

    def leaks(self, text: str) -> list[str]:
        return sorted(marker for marker in self.markers if marker in text)

    def urls(self, path: str) -> Iterator[str]:
        """``path`` filled with A's objects (every combination)."""
        names = parameters_of(path)
        for values in product(*(self.ids[PARAMETER_KINDS[name]] for name in names)):
            yield BASE + filled(path, values)

    def b_render_query(self) -> dict[str, str]:
        return {"lead_id": self.b_own["lead"], "contact_id": self.b_own["contact"]}

    def a_reference(self, name: str) -> Any:
        """A's object for a reference field."""
        users = {"user_id", "assigned_to", "created_by"}
        if name in users:
            return self.one("user")
        if name == "attachments":
            return [self.file_item]
        kinds = {
            "lead_id": "lead", "contact_id": "contact", "in_reply_to_id": "email",
            "template_id": "template", "email_account_id": "account", "account_id": "account",
            "organization_id": "organization",
        }  # fmt: skip
        return self.one(kinds[name])


def webhook_body(marker: str) -> dict[str, Any]:
    return {
        "url": PUBLIC_WEBHOOK_URL + marker,
        "events": [{"object_type": "lead", "action": "created"}],
    }


async def a_sent_email_token(database: Database, email_id: str) -> str:
    async with database.transaction() as session:
        statement = select(EmailActivity.open_token).where(EmailActivity.id == email_id)
        token = (await session.execute(statement)).scalar_one()
    assert token
    return str(token)


async def all_event_ids(client: httpx.AsyncClient) -> tuple[list[str], str | None]:
    """Every event id of the client's organization, and the cursor after the first one."""
    first = ok(await client.get("/event/", params={"_limit": 1}))
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = ok(await client.get("/event/", params={"_cursor": cursor} if cursor else {}))
        ids += [event["id"] for event in page["data"]]
        cursor = page["cursor_next"]
        if not cursor or not page["data"]:
            return ids, first["cursor_next"]


async def create_everything(
    a: Tenant, database: Database
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    marker = new_id("a").lower()
    item = await upload_file(a.client, f"plan-{marker}.pdf", "application/pdf", FILE_BYTES)
    lead = await create_lead(
        a.client, name=f"Lead {marker}",
        contacts=[{"name": "Ann Able", "emails": [{"email": f"ann.{marker}@a.example.com"}]}],
    )  # fmt: skip
    contact_id = lead["contacts"][0]["id"]
    account_id = await add_sending_account(database, a.user_email)
    template = ok(
        await a.client.post(
            "/email_template/",
            json={"name": f"Template {marker}", "subject": "Hi {{ contact.first_name }}",
                  "body": "<p>Hello</p>", "attachments": [item]},
        )
    )  # fmt: skip
    to = [f"ann.{marker}@a.example.com"]
    sent = await create_email(
        a.client, lead["id"], status="sent", contact_id=contact_id, to=to,
        body_html="<p>Hi</p>", attachments=[item], template_id=template["id"],
        opens=[{"opened_at": OPENED_AT}],
    )  # fmt: skip
    draft = await create_email(a.client, lead["id"], in_reply_to_id=sent["id"], to=to)
    outbox = await create_email(
        a.client, lead["id"], status="outbox", send_in=59, sender=a.user_email, to=to,
        email_account_id=account_id,
    )  # fmt: skip
    task_response = await a.client.post(
        "/task/", json={"lead_id": lead["id"], "text": f"Task {marker}", "assigned_to": a.user_id}
    )
    task = ok(task_response)
    webhook = await a.client.post("/webhook/", json=webhook_body(marker))
    assert webhook.status_code == 201, webhook.text
    unsubscribe = {"email": f"unsubscribed.{marker}@a.example.com"}
    unsubscribed = await a.client.post("/unsubscribe/email/", json=unsubscribe)
    assert unsubscribed.status_code == 201, unsubscribed.text
    emails = [sent, draft, outbox]
    ids = {
        "organization": [a.organization_id],
        "user": [a.user_id],
        "lead": [lead["id"]],
        "contact": [contact_id],
        "email": [email["id"] for email in emails],
        "thread": sorted({email["thread_id"] for email in emails}),
        "task": [task["id"]],
        "request": [task_response.headers["x-request-id"]],
        "template": [template["id"]],
        "file": [item["url"].split("/")[-2]],
        "filename": [item["filename"]],
        "webhook": [webhook.json()["id"]],
        "unsubscribed": [unsubscribed.json()["email"]],
        "unsubscribed_id": [unsubscribed.json()["id"]],
        "account": [account_id],
        "token": [await a_sent_email_token(database, sent["id"])],
        "message_id": [message_id for email in emails for message_id in email["message_ids"]],
        "marker": [marker, a.user_email],
    }
    return ids, item


async def create_b_own(b: Tenant) -> dict[str, str]:
    lead = await create_lead(b.client, name="B's lead")
    draft = await create_email(b.client, lead["id"])
    task = ok(await b.client.post("/task/", json={"lead_id": lead["id"], "text": "B's task"}))
    template = ok(
        await b.client.post("/email_template/", json={"name": "B's", "subject": "Hi", "body": "Hi"})
    )
    webhook = await b.client.post("/webhook/", json=webhook_body("b-own"))
    assert webhook.status_code == 201, webhook.text
    return {
        "lead": lead["id"],
        "contact": lead["contacts"][0]["id"],
        "email": draft["id"],
        "task": task["id"],
        "template": template["id"],
        "webhook": webhook.json()["id"],
    }


async def snapshot(world: World) -> dict[str, bytes]:
    """A's view of each of its objects (every object route that can be read)."""
    readable = [p for m, p in ROUTES if m == "GET" and p in {q for _m, q in object_routes()}]
    found = {}
    for path in readable:
        if path in OBJECT_QUERIES:
            continue
        for url in world.urls(path):
            response = await world.a.client.get(url)
            assert response.status_code == 200, (url, response.text)
            found[url] = response.content
    for path in CHECKED_BY_LIST.values():
        found[BASE + path] = (await world.a.client.get(BASE + path)).content
    return found


@pytest.fixture(scope="module")
async def world(app: FastAPI, database: Database) -> AsyncIterator[World]:
    a = await create_tenant(app, database, "Ann Able")
    b = await create_tenant(app, database, "Mallory Other")
    try:
        ids, item = await create_everything(a, database)
        ids["event"], cursor = await all_event_ids(a.client)
        created = World(a, b, ids, item, await create_b_own(b), cursor)
        created.markers = {value for values in ids.values() for value in values}
        created.snapshots = await snapshot(created)
        yield created
    finally:
        await a.client.aclose()
        await b.client.aclose()


# -- the matrix ----------------------------------------------------------------------------------


def unknown_routes(routes: list[Route]) -> list[str]:
    """What the matrix could not call, each with the reason."""
    problems = []
    for method, path in routes:
        names = parameters_of(path)
        if is_docs((method, path)) or (method, path) in SPECIAL_ROUTES:
            continue
        if not path.startswith((API, "/go/file/")):
            problems.append(f"{method} {path}: outside /api/v1/ and /go/file/")
        problems += [
            f"{method} {path}: path parameter {n}" for n in names if n not in PARAMETER_KINDS
        ]
        if names and method == "PUT" and PARAMETER_KINDS.get(names[0]) not in PUT_BODIES:
            problems.append(f"{method} {path}: no update body for {names[0]}")
        checkable = ("GET", path) in routes or path in CHECKED_BY_LIST
        if names and method in {"PUT", "DELETE"} and not checkable:
            problems.append(f"{method} {path}: no GET to check the object afterwards")
        if names and method not in {"GET", "PUT", "DELETE"}:
            problems.append(f"{method} {path}: method with a path parameter")
        if not names and method == "GET":
            problems += [f"GET {path}: query parameter {q}" for q in unknown_filters(path)]
        if not names and method == "POST" and path not in NO_OBJECT_CREATES:
            if (method, path) not in REFERENCE_FIELDS:
                problems.append(f"POST {path}: neither in REFERENCE_FIELDS nor NO_OBJECT_CREATES")
        if not names and method == "PUT" and path not in BULK_UPDATES:
            problems.append(f"PUT {path}: a bulk update not in BULK_UPDATES")
        if not names and method not in {"GET", "POST", "PUT"}:
            problems.append(f"{method} {path}: method without a path parameter")
    return problems


def unknown_filters(path: str) -> list[str]:
    return [
        name
        for name in openapi_parameters("GET", path, "query")
        if name not in ID_FILTERS | OTHER_FILTERS and not DATE_BOUND.search(name)
    ]


async def test_the_matrix_knows_every_route(app: FastAPI) -> None:
    served = served_routes(app)
    assert served == ROUTES
    assert unknown_routes(served) == []
    stale = [route for route in REFERENCE_FIELDS if route not in served]
    assert stale == []


@pytest.mark.parametrize("route", object_routes(), ids=route_id)
async def test_other_organizations_object_is_not_found(world: World, route: Route) -> None:
    method, path = route
    assert unknown_routes([r for r in ROUTES if r[1] == path]) == []
    kind = PARAMETER_KINDS[parameters_of(path)[0]]
    body = PUT_BODIES[kind] if method == "PUT" else None
    query = OBJECT_QUERIES[path](world) if path in OBJECT_QUERIES else None
    for url in world.urls(path):
        response = await world.b.client.request(method, url, json=body, params=query)
        assert response.status_code == 404, (url, response.text)
        assert not world.leaks(response.text.replace(url, ""))
        if method != "GET":
            checked = BASE + CHECKED_BY_LIST[path] if path in CHECKED_BY_LIST else url
            after = await world.a.client.get(checked)
            assert after.content == world.snapshots[checked]


def list_queries(world: World, path: str) -> list[dict[str, str]]:
    """No filter, then each id filter the list takes, naming A's objects."""
    a = world.ids
    values = {
        "lead_id": a["lead"],
        "lead_id__in": [",".join(a["lead"])],
        "contact_id": a["contact"],
        "contact_id__in": [",".join(a["contact"])],
        "user_id": a["user"],
        "user_id__in": [",".join(a["user"])],
        "organization_id": a["organization"],
        "assigned_to": a["user"],
        "thread_id": [",".join(a["thread"])],
        "id__in": [",".join(a["email"] + a["task"] + a["thread"] + a["lead"] + a["contact"])],
        "object_id": a["lead"] + a["contact"] + a["email"] + a["thread"] + a["task"],
        "id": a["task"],
        "request_id": a["request"],
        "_cursor": [world.cursor] if world.cursor else [],
    }
    extras = LIST_EXTRAS.get(path, {})
    queries = [dict(extras)]
    for name in openapi_parameters("GET", path, "query"):
        scope = {"lead_id": a["lead"][0]} if name in SINGLE_LEAD_FILTERS.get(path, ()) else {}
        queries += [extras | scope | {name: value} for value in values.get(name, [])]
    return queries


def assert_answered_without_leaks(
    world: World, query: dict[str, str], response: httpx.Response
) -> None:
    """B's request naming A's objects: a 400 on exactly the filters that only take one's own
    organization, else a 200; either way nothing of A's in the answer."""
    refused = REFUSED_FILTERS & set(query)
    if refused:
        assert set(response.json().get("field-errors", {})) == refused, response.text
    else:
        assert response.status_code == 200, (query, response.text)
    assert world.leaks(response.text) == [], query


@pytest.mark.parametrize("path", list_routes())
async def test_lists_never_show_other_organizations_objects(world: World, path: str) -> None:
    assert unknown_filters(path) == []
    own = await world.a.client.get(BASE + path, params=LIST_EXTRAS.get(path, {}))
    assert world.leaks(own.text), "the list shows A its own objects (the search works)"
    for query in list_queries(world, path):
        response = await world.b.client.get(BASE + path, params=query)
        assert_answered_without_leaks(world, query, response)


@pytest.mark.parametrize("path", bulk_routes())
async def test_bulk_updates_never_change_other_organizations_objects(
    world: World, path: str
) -> None:
    assert path in BULK_UPDATES, "add the route's body to BULK_UPDATES"
    for query in list_queries(world, path):
        response = await world.b.client.put(BASE + path, params=query, json=BULK_UPDATES[path])
        assert_answered_without_leaks(world, query, response)
    assert await snapshot(world) == world.snapshots


def reference_request(world: World, method: str, path: str, name: str) -> dict[str, Any]:
    """B's own valid request for the route, with ``name`` set to A's object."""
    b, value = world.b_own, world.a_reference(name)
    if path in BULK_UPDATES and method == "PUT":
        return {"url": BASE + path, "params": {"id": b["task"]}, "json": {name: value}}
    bodies: dict[str, dict[str, Any]] = {
        "/api/v1/activity/email/": {"lead_id": b["lead"], "status": "draft", "subject": "Hi",
                                    "body_text": "Hi", "to": ["x@b.example.com"]},
        "/api/v1/activity/email/{email_id}/": {},
        "/api/v1/lead/": {"name": "B"},
        "/api/v1/lead/{lead_id}/": {},
        "/api/v1/contact/": {"name": "Bo"},
        "/api/v1/contact/{contact_id}/": {},
        "/api/v1/webhook/": webhook_body("b"),
        "/api/v1/webhook/{subscription_id}/": {},
        "/api/v1/task/": {"lead_id": b["lead"], "text": "Call"},
        "/api/v1/task/{task_id}/": {},
        "/api/v1/email_template/": {"name": "B", "subject": "Hi", "body": "Hi"},
        "/api/v1/email_template/{template_id}/": {},
    }  # fmt: skip
    url = BASE + PARAMETER.sub(lambda m: b[PARAMETER_KINDS[m.group(1)]], path)
    if method == "GET":
        return {"url": url, "params": world.b_render_query() | {name: value}}
    return {"url": url, "json": bodies[path] | {name: value}}


@pytest.mark.parametrize(
    ("method", "path", "name"), reference_cases(), ids=[" ".join(c) for c in reference_cases()]
)
async def test_naming_other_organizations_object_is_a_field_error(
    world: World, method: str, path: str, name: str
) -> None:
    response = await world.b.client.request(method, **reference_request(world, method, path, name))
    assert response.status_code == 400, response.text
    assert name in response.json()["field-errors"], response.text  # the name sent (spec §1)


CREATE_BODIES: dict[str, Callable[[World], dict[str, Any]]] = {
    "/api/v1/files/upload/": lambda w: {"filename": "b.txt", "content_type": "text/plain"},
    "/api/v1/lead/": lambda w: {"name": "B's new lead", "contacts": [{"name": "Bea"}]},
    "/api/v1/webhook/": lambda w: webhook_body("b"),
    "/api/v1/unsubscribe/email/": lambda w: {"email": "bea@b.example.com"},
}


@pytest.mark.parametrize("path", plain_creates())
async def test_creating_what_names_no_object_shows_nothing_of_other_organizations(
    world: World, path: str
) -> None:
    assert path in NO_OBJECT_CREATES, "add the route to REFERENCE_FIELDS or NO_OBJECT_CREATES"
    response = await world.b.client.post(BASE + path, json=CREATE_BODIES[path](world))
    assert response.status_code in {200, 201}, response.text
    assert world.leaks(response.text) == []


@pytest.mark.parametrize("path", idempotent_creates())
async def test_idempotency_keys_belong_to_one_organization(world: World, path: str) -> None:
    """B repeating A's key and body gets its own answer (here: A's lead is not B's), never A's
    stored response."""
    a_body = {"lead_id": world.one("lead"), "status": "draft", "subject": "Same key",
              "body_text": "Hi", "to": ["ann@a.example.com"]}  # fmt: skip
    key = {"Idempotency-Key": new_id("idem")}
    first = ok(await world.a.client.post(BASE + path, json=a_body, headers=key))
    world.markers.add(first["id"])
    response = await world.b.client.post(BASE + path, json=a_body, headers=key)
    assert response.status_code == 400, response.text
    assert "lead_id" in response.json()["field-errors"]
    assert world.leaks(response.text) == []


async def test_message_ids_of_another_organization_neither_deduplicate_nor_thread(
    world: World,
) -> None:
    """Message-IDs are public (B may have received A's email): B logging an email with A's
    Message-ID, or replying to it, gets an email and a thread of its own, never A's."""
    a_message_id = world.ids["message_id"][0]
    logged = await create_email(
        world.b.client, world.b_own["lead"], status="inbox", sender="ann@a.example.com",
        message_ids=[a_message_id], envelope={"message_id": a_message_id},
    )  # fmt: skip
    reply = await create_email(
        world.b.client, world.b_own["lead"], status="inbox", sender="ann@a.example.com",
        message_ids=[f"<reply.{new_id('m')}@a.example.com>"], references=[a_message_id],
        subject="Re: Hello",
    )  # fmt: skip
    for email in (logged, reply):
        assert email["organization_id"] == world.b.organization_id
        assert world.leaks(str(email)) == [a_message_id], "only what B itself sent"


async def test_unsubscribing_an_address_on_another_organizations_list_lists_it_apart(
    world: World,
) -> None:
    """Addresses are public: B unsubscribing an address A has listed gets a row of its own,
    shows nothing else of A, and resubscribing it leaves A's row."""
    address = world.one("unsubscribed")
    response = await world.b.client.post("/unsubscribe/email/", json={"email": address})
    assert response.status_code == 201, response.text
    assert response.json()["organization_id"] == world.b.organization_id
    assert world.leaks(response.text.replace(address, "")) == [], "only what B itself sent"
    assert ok(await world.b.client.delete(f"/unsubscribe/email/{address}/")) == {}
    a_list = ok(await world.a.client.get("/unsubscribe/email/"))["data"]
    assert [item["id"] for item in a_list] == world.ids["unsubscribed_id"]


async def upload_form(
    client: httpx.AsyncClient, url: str, fields: dict[str, str], data: bytes
) -> int:
    files = {"file": ("x.txt", data, "text/plain")}
    return (await client.post(url, data=fields, files=files)).status_code


async def test_an_upload_grant_of_another_organization_cannot_be_used(world: World) -> None:
    """The signed upload (``POST /files/upload/{file_id}/``) takes no API key: B's own valid
    grant fields do not open A's grant, and A's upload still works afterwards."""
    assert ("POST", "/api/v1/files/upload/{file_id}/") in ROUTES
    grant_body = {"filename": "a.txt", "content_type": "text/plain"}
    a_grant = ok(await world.a.client.post("/files/upload/", json=grant_body))
    b_grant = ok(await world.b.client.post("/files/upload/", json=grant_body))
    a_url, a_fields = a_grant["upload"]["url"], a_grant["upload"]["fields"]
    b_fields = b_grant["upload"]["fields"]
    refused = {400, 403, 404}
    assert await upload_form(world.b.client, a_url, b_fields, b"B's bytes") in refused
    moved = b_fields | {"key": a_fields["key"]}
    assert await upload_form(world.b.client, a_url, moved, b"B's bytes") in refused
    assert await upload_form(world.a.client, a_url, a_fields, b"A's bytes") == 201
    assert (await world.a.client.get(a_grant["download"]["url"])).content == b"A's bytes"
    assert (await world.b.client.get(a_grant["download"]["url"])).status_code == 404


async def a_opens(world: World) -> list[Any]:
    email = ok(await world.a.client.get(f"/activity/email/{world.one('email')}/"))
    opens: list[Any] = email["opens"]
    return opens


async def test_the_tracking_pixel_lets_no_organization_learn_or_alter_anothers_opens(
    world: World,
) -> None:
    """The pixel needs no key (its token is unguessable): B fetching it with any identifier of
    A's email it could know records nothing on A's email, and no API response shows a token."""
    assert ("GET", "/t/o/{token}.gif") in ROUTES
    before = await a_opens(world)
    guesses = [world.one("email"), world.one("lead"), world.one("thread"), *world.ids["message_id"]]
    for guess in guesses:
        response = await world.b.client.get(f"{BASE}/t/o/{guess.strip('<>')}.gif")
        assert response.status_code == 200
    assert len(before) == 1
    assert await a_opens(world) == before
    a_email = await world.a.client.get(f"/activity/email/{world.one('email')}/")
    assert world.one("token") not in a_email.text


async def test_other_organizations_requests_changed_nothing_of_a(world: World) -> None:
    """Runs last: every object of A reads exactly as before B's requests."""
    assert await snapshot(world) == world.snapshots
