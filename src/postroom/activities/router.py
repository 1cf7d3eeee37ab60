"""HTTP for ``/activity/``: every activity type; Postroom keeps only emails."""

from __future__ import annotations

from fastapi import APIRouter

from postroom.dependencies import ReadOnlyCallerDep, ReadOnlySessionDep
from postroom.emails.filters import LIST_QUERY_OPENAPI, EmailListQueryDep
from postroom.emails.router import email_page
from postroom.emails.schemas import EmailActivityList
from postroom.kit.paging import FieldsDep, PageDep
from postroom.kit.responses import JSONResponse

router = APIRouter(tags=["activities"])


@router.get(
    "/activity/", responses={200: {"model": EmailActivityList}}, openapi_extra=LIST_QUERY_OPENAPI
)
async def list_activities(
    session: ReadOnlySessionDep,
    caller: ReadOnlyCallerDep,
    query: EmailListQueryDep,
    page: PageDep,
    fields: FieldsDep,
) -> JSONResponse:
    if not query.includes_emails():
        return JSONResponse({"data": [], "has_more": False})
    return await email_page(session, caller, query, page, fields)
