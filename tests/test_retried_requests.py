"""A request whose transaction the database aborted to end a conflict with another (a deadlock,
a serialization failure, a lock not available) is run again, up to five times, before it is
answered 409: the client sees the answer of a request that ran after the other change, not a
conflict. It changed nothing in the run that was aborted, so it changes things once.

Deadlocks are real: a transaction of the test holds one row while the request waits for it,
then asks for a row the request holds (PostgreSQL's deadlock detector ends the request's side:
the test's waits 10 s before looking). A ``COMMIT`` refused, a run refused every time and a
connection lost under the ``COMMIT`` are made by a deferred trigger on the emails of one subject,
which counts its runs in a sequence (sequences are not rolled back). All of it is PostgreSQL:
SQLite runs writing requests one at a time, and never deadlocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Executable, delete, select, text
from starlette.routing import BaseRoute

from postroom.db import Database
from postroom.kit.routing import RetryingRoute
from postroom.models import EmailActivity, EmailThread, Lead
from tests.conftest import Tenant
from tests.helpers import IN_FLIGHT, create_email, create_lead, ok

FAULTY = "Faulty commit"
"""The subject of the emails whose transaction the trigger of ``faulty_commits`` refuses."""


@pytest.fixture(autouse=True)
def _postgres_only(request: pytest.FixtureRequest) -> None:
    if "database" in request.fixturenames:
        database: Database = request.getfixturevalue("database")
        if database.is_sqlite:
            pytest.skip("SQLite runs writing requests one at a time: no deadlock, no trigger")


async def in_deadlock_with(
    database: Database,
    held: Executable,
    request: Awaitable[httpx.Response],
    wanted: Executable,
    commit: bool = False,
) -> httpx.Response:
    """Send ``request`` while a transaction holds ``held``; once the request waits for it,
    that transaction asks for ``wanted``, which the request holds: PostgreSQL aborts the
    request. The transaction is then rolled back (or committed); the request's answer."""
    async with database.transaction() as session:
        await session.execute(text("SET LOCAL deadlock_timeout = '10s'"))
        await session.execute(held)
        answer = asyncio.ensure_future(request)
        await asyncio.sleep(IN_FLIGHT)
        assert not answer.done()
        await session.execute(wanted)
        if not commit:
            await session.rollback()
    return await answer


def locked(model: Any, row_id: str) -> Executable:
    return select(model.id).where(model.id == row_id).with_for_update()


async def a_draft_and_another_thread(tenant: Tenant) -> tuple[dict[str, Any], dict[str, Any]]:
    lead = await create_lead(tenant.client)
    other = await create_email(tenant.client, lead["id"], status="sent", sender="a@example.com")
    return await create_email(tenant.client, lead["id"]), other


async def test_a_request_aborted_in_a_deadlock_runs_again_and_succeeds(
    tenant: Tenant, database: Database
) -> None:
    """A draft moved into another thread deletes its old, now empty, thread; a deletion of
    that thread holds it and then wants the draft."""
    draft, other = await a_draft_and_another_thread(tenant)
    move = tenant.client.put(
        f"/activity/email/{draft['id']}/", json={"in_reply_to_id": other["id"]}
    )
    draft_gone = delete(EmailActivity).where(EmailActivity.id == draft["id"])
    held = locked(EmailThread, draft["thread_id"])
    response = await in_deadlock_with(database, held, move, draft_gone)
    assert ok(response)["thread_id"] == other["thread_id"]
    shown = ok(await tenant.client.get(f"/activity/email/{draft['id']}/"))
    assert shown["thread_id"] == other["thread_id"]


async def test_a_request_aborted_by_a_deletion_that_commits_runs_again_and_is_a_404(
    tenant: Tenant, database: Database
) -> None:
    draft, other = await a_draft_and_another_thread(tenant)
    move = tenant.client.put(
        f"/activity/email/{draft['id']}/", json={"in_reply_to_id": other["id"]}
    )
    draft_gone = delete(EmailActivity).where(EmailActivity.id == draft["id"])
    held = locked(EmailThread, draft["thread_id"])
    response = await in_deadlock_with(database, held, move, draft_gone, commit=True)
    assert response.status_code == 404, response.text


async def events_of_request(tenant: Tenant, response: httpx.Response) -> list[tuple[str, str]]:
    request_id = response.headers["x-request-id"]
    events = ok(await tenant.client.get("/event/", params={"request_id": request_id}))["data"]
    return sorted((event["object_type"], event["action"]) for event in events)


async def emails_of(tenant: Tenant, lead_id: str) -> list[str]:
    listed = ok(await tenant.client.get("/activity/email/", params={"lead_id": lead_id}))
    return [email["id"] for email in listed["data"]]


async def test_a_create_run_again_after_a_deadlock_makes_one_email_and_one_event(
    tenant: Tenant, database: Database
) -> None:
    """A reply holds its lead (``FOR KEY SHARE``) and then waits for its thread, which a
    transaction holds that then wants the lead."""
    lead = await create_lead(tenant.client)
    parent = await create_email(tenant.client, lead["id"], status="sent", sender="a@example.com")
    reply = {"lead_id": lead["id"], "status": "draft", "in_reply_to_id": parent["id"]}
    headers = {"Idempotency-Key": "reply-1"}
    creation = tenant.client.post("/activity/email/", json=reply, headers=headers)
    held = locked(EmailThread, parent["thread_id"])
    response = await in_deadlock_with(database, held, creation, locked(Lead, lead["id"]))
    created = ok(response)
    assert sorted(await emails_of(tenant, lead["id"])) == sorted([parent["id"], created["id"]])
    assert await events_of_request(tenant, response) == [
        ("activity.email", "created"),
        ("activity.email_thread", "updated"),
    ]
    repeat = tenant.client.post("/activity/email/", json=reply, headers=headers)
    assert ok(await repeat)["id"] == created["id"]


@asynccontextmanager
async def faulty_commits(
    database: Database, fault: str
) -> AsyncIterator[Callable[[], Awaitable[int]]]:
    """Every transaction that inserts an email with the subject ``FAULTY`` runs ``fault``
    (PL/pgSQL, where ``runs`` is how many such transactions tried to commit, this one
    included) at its ``COMMIT``; yields a function that reads ``runs``."""
    statements = [
        "CREATE SEQUENCE faulty_runs",
        "CREATE FUNCTION faulty_commit() RETURNS trigger LANGUAGE plpgsql AS $$"
        " DECLARE runs bigint := nextval('faulty_runs');"
        f" BEGIN {fault}; RETURN NULL; END $$",
        "CREATE CONSTRAINT TRIGGER faulty_commit AFTER INSERT ON email_activities"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
        f" WHEN (NEW.subject = '{FAULTY}') EXECUTE FUNCTION faulty_commit()",
    ]
    async with database.transaction() as session:
        for statement in statements:
            await session.execute(text(statement))

    async def runs() -> int:
        async with database.reading() as session:
            return int((await session.execute(text("SELECT last_value FROM faulty_runs"))).one()[0])

    try:
        yield runs
    finally:
        async with database.transaction() as session:
            await session.execute(text("DROP TRIGGER faulty_commit ON email_activities"))
            await session.execute(text("DROP FUNCTION faulty_commit()"))
            await session.execute(text("DROP SEQUENCE faulty_runs"))


def refused(sqlstate: str, when: str = "true") -> str:
    return f"IF {when} THEN RAISE EXCEPTION 'refused' USING ERRCODE = '{sqlstate}'; END IF"


def faulty_email(lead_id: str) -> dict[str, Any]:
    return {"lead_id": lead_id, "status": "draft", "subject": FAULTY}


async def test_a_create_whose_commit_is_refused_runs_again_and_its_key_replays_it(
    tenant: Tenant, database: Database
) -> None:
    """The key was claimed in a transaction of its own, committed: the run again finds it
    claimed by the run before, its own, and carries on with it."""
    lead = await create_lead(tenant.client)
    headers = {"Idempotency-Key": "refused-once"}
    async with faulty_commits(database, refused("40001", when="runs = 1")) as runs:
        response = await tenant.client.post(
            "/activity/email/", json=faulty_email(lead["id"]), headers=headers
        )
        created = ok(response)
        assert await runs() == 2
    assert await emails_of(tenant, lead["id"]) == [created["id"]]
    assert await events_of_request(tenant, response) == [
        ("activity.email", "created"),
        ("activity.email_thread", "created"),
    ]
    repeat = await tenant.client.post(
        "/activity/email/", json=faulty_email(lead["id"]), headers=headers
    )
    assert ok(repeat)["id"] == created["id"]
    assert repeat.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("sqlstate", ["40P01", "40001", "55P03"])
async def test_a_request_aborted_five_times_is_a_409_that_changed_nothing(
    tenant: Tenant, database: Database, sqlstate: str
) -> None:
    lead = await create_lead(tenant.client)
    async with faulty_commits(database, refused(sqlstate)) as runs:
        response = await tenant.client.post("/activity/email/", json=faulty_email(lead["id"]))
        assert await runs() == 5
    assert response.status_code == 409, response.text
    assert "send it again" in response.json()["error"]
    assert await emails_of(tenant, lead["id"]) == []


async def test_a_connection_lost_under_the_commit_is_not_run_again(
    tenant: Tenant, database: Database
) -> None:
    """The outcome is unknown (``CommitOutcomeUnknown``): a 500 that says so, after one run."""
    lead = await create_lead(tenant.client)
    fault = "PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5)"
    async with faulty_commits(database, fault) as runs:
        response = await tenant.client.post("/activity/email/", json=faulty_email(lead["id"]))
        assert await runs() == 1
    assert response.status_code == 500, response.text
    assert "may or may not have been saved" in response.json()["error"]


def routes_of(app: FastAPI) -> list[APIRoute]:
    """The API routes of ``app``, those of included routers too."""
    found: list[BaseRoute] = []
    for route in app.routes:
        included = getattr(route, "original_router", None)
        found.extend(included.routes if included is not None else [route])
    return [route for route in found if isinstance(route, APIRoute)]


def test_every_route_runs_again_but_the_signed_upload_whose_body_is_gone(app: FastAPI) -> None:
    plain = [route.path for route in routes_of(app) if not isinstance(route, RetryingRoute)]
    assert plain == ["/files/upload/{file_id}/"]
