"""HTTP for ``/unsubscribe/email/``: parse, authenticate, call one service function, return."""

from __future__ import annotations

from fastapi import APIRouter

from postroom.dependencies import CallerDep, ReadOnlyCallerDep, ReadOnlySessionDep, SessionDep
from postroom.kit.paging import FieldsDep, PageDep, page_body, select_fields
from postroom.kit.responses import JSONResponse
from postroom.kit.routing import RetryingRoute
from postroom.unsubscribes import service
from postroom.unsubscribes.schemas import (
    UnsubscribedEmailCreate,
    UnsubscribedEmailList,
    UnsubscribedEmailOut,
    render_unsubscribed_email,
)

router = APIRouter(tags=["unsubscribed emails"], route_class=RetryingRoute)


@router.get("/unsubscribe/email/", responses={200: {"model": UnsubscribedEmailList}})
async def list_unsubscribed_emails(
    session: ReadOnlySessionDep, caller: ReadOnlyCallerDep, page: PageDep, fields: FieldsDep
) -> JSONResponse:
    found = await service.list_unsubscribed(session, caller, page.skip, page.limit + 1)
    return JSONResponse(page_body(found, page, render_unsubscribed_email, fields))


@router.post(
    "/unsubscribe/email/", status_code=201, responses={201: {"model": UnsubscribedEmailOut}}
)
async def unsubscribe_email(
    body: UnsubscribedEmailCreate, session: SessionDep, caller: CallerDep, fields: FieldsDep
) -> JSONResponse:
    row = await service.unsubscribe(session, caller, body.email)
    return JSONResponse(select_fields(render_unsubscribed_email(row), fields), status_code=201)


@router.delete("/unsubscribe/email/{email_address:path}/")
async def resubscribe_email(
    email_address: str, session: SessionDep, caller: CallerDep
) -> JSONResponse:
    await service.resubscribe(session, caller, email_address)
    return JSONResponse({})
