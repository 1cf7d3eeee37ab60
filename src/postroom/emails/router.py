"""HTTP for ``/activity/email/``: parse, authenticate, call one service function, return."""

from __future__ import annotations

from fastapi import APIRouter

from postroom.dependencies import (
    CallerDep,
    ReadOnlyCallerDep,
    ReadOnlySessionDep,
    SessionDep,
    SettingsDep,
)
from postroom.emails import deletion, service
from postroom.emails.filters import LIST_QUERY_OPENAPI, EmailListQueryDep
from postroom.emails.rendering import EmailRecord, render_email
from postroom.emails.schemas import (
    EmailActivity,
    EmailActivityCreate,
    EmailActivityList,
    EmailActivityUpdate,
)
from postroom.emails.service import EmailPage
from postroom.idempotency.service import IdempotencyDep
from postroom.kit.paging import FieldsDep, PageDep, PageRequest, page_body, select_fields
from postroom.kit.responses import JSONResponse
from postroom.kit.routing import RetryingRoute

router = APIRouter(tags=["emails"], route_class=RetryingRoute)


def email_page(found: EmailPage, page: PageRequest, fields: frozenset[str] | None) -> JSONResponse:
    """A list response of emails read with ``page.limit + 1``."""

    def render(email: EmailRecord) -> dict[str, object]:
        return render_email(email, found.names)

    return JSONResponse(page_body(found.emails, page, render, fields))


async def email_response(
    session: SessionDep, email: EmailRecord, fields: frozenset[str] | None
) -> JSONResponse:
    names = await service.names_for(session, [email])
    return JSONResponse(select_fields(render_email(email, names), fields))


@router.get(
    "/activity/email/",
    responses={200: {"model": EmailActivityList}},
    openapi_extra=LIST_QUERY_OPENAPI,
)
async def list_emails(
    session: ReadOnlySessionDep,
    caller: ReadOnlyCallerDep,
    query: EmailListQueryDep,
    page: PageDep,
    fields: FieldsDep,
) -> JSONResponse:
    where = query.to_filter(caller.tz)
    found = await service.list_emails(session, caller, where, page.skip, page.limit + 1)
    return email_page(found, page, fields)


@router.post("/activity/email/", responses={200: {"model": EmailActivity}})
async def create_email(
    body: EmailActivityCreate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    fields: FieldsDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    async def create() -> JSONResponse:
        email = await service.create_email(session, caller, body, settings)
        return await email_response(session, email, fields)

    return await idempotency.run(session, caller, create)


@router.get("/activity/email/{email_id}/", responses={200: {"model": EmailActivity}})
async def read_email(
    email_id: str, session: ReadOnlySessionDep, caller: ReadOnlyCallerDep, fields: FieldsDep
) -> JSONResponse:
    email = await service.read_email(session, caller, email_id)
    return await email_response(session, email, fields)


@router.put("/activity/email/{email_id}/", responses={200: {"model": EmailActivity}})
async def update_email(
    email_id: str,
    body: EmailActivityUpdate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    fields: FieldsDep,
) -> JSONResponse:
    email = await service.update_email(session, caller, email_id, body, settings)
    return await email_response(session, email, fields)


@router.delete("/activity/email/{email_id}/")
async def delete_email(email_id: str, session: SessionDep, caller: CallerDep) -> JSONResponse:
    await deletion.delete_email(session, caller, email_id)
    return JSONResponse({})
