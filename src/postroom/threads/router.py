"""HTTP for ``/activity/emailthread/``: parse, call one service function, return."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from postroom.dependencies import CallerDep, ReadOnlyCallerDep, ReadOnlySessionDep, SessionDep
from postroom.emails.service import names_for
from postroom.kit.paging import FieldsDep, PageDep, page_body, select_fields
from postroom.kit.responses import JSONResponse
from postroom.kit.routing import RetryingRoute
from postroom.threads import service
from postroom.threads.filters import THREAD_QUERY_OPENAPI, ThreadListQueryDep
from postroom.threads.schemas import (
    EmailThreadList,
    EmailThreadOut,
    ThreadView,
    render_thread,
)

router = APIRouter(tags=["email threads"], route_class=RetryingRoute)


@router.get(
    "/activity/emailthread/",
    responses={200: {"model": EmailThreadList}},
    openapi_extra=THREAD_QUERY_OPENAPI,
)
async def list_threads(
    session: ReadOnlySessionDep,
    caller: ReadOnlyCallerDep,
    query: ThreadListQueryDep,
    page: PageDep,
    fields: FieldsDep,
) -> JSONResponse:
    views = await service.list_threads(
        session, caller, query.to_filter(caller.tz), page.skip, page.limit + 1
    )
    names = await names_for(session, [email for view in views for email in view.emails])

    def render(view: ThreadView) -> dict[str, Any]:
        return render_thread(view, names)

    return JSONResponse(page_body(views, page, render, fields))


@router.get("/activity/emailthread/{thread_id}/", responses={200: {"model": EmailThreadOut}})
async def read_thread(
    thread_id: str, session: ReadOnlySessionDep, caller: ReadOnlyCallerDep, fields: FieldsDep
) -> JSONResponse:
    view = await service.get_thread(session, caller, thread_id)
    names = await names_for(session, view.emails)
    return JSONResponse(select_fields(render_thread(view, names), fields))


@router.delete("/activity/emailthread/{thread_id}/")
async def delete_thread(thread_id: str, session: SessionDep, caller: CallerDep) -> JSONResponse:
    await service.delete_thread(session, caller, thread_id)
    return JSONResponse({})
