"""HTTP for ``/activity/``: every activity type; Postroom keeps only emails."""

from __future__ import annotations

from fastapi import APIRouter

from postroom.activities import service
from postroom.dependencies import ReadOnlyCallerDep, ReadOnlySessionDep
from postroom.emails.filters import ACTIVITY_QUERY_OPENAPI, ActivityListQueryDep
from postroom.emails.router import email_page
from postroom.emails.schemas import EmailActivityList
from postroom.kit.paging import FieldsDep, PageDep
from postroom.kit.responses import JSONResponse
from postroom.kit.routing import RetryingRoute

router = APIRouter(tags=["activities"], route_class=RetryingRoute)


@router.get(
    "/activity/",
    responses={200: {"model": EmailActivityList}},
    openapi_extra=ACTIVITY_QUERY_OPENAPI,
)
async def list_activities(
    session: ReadOnlySessionDep,
    caller: ReadOnlyCallerDep,
    query: ActivityListQueryDep,
    page: PageDep,
    fields: FieldsDep,
) -> JSONResponse:
    found = await service.list_activities(session, caller, query, page.skip, page.limit + 1)
    return email_page(found, page, fields)
