"""HTTP for ``/event/``: the event log, newest first, with cursor paging."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from postroom.dependencies import ReadOnlyCallerDep, ReadOnlySessionDep
from postroom.events import service
from postroom.events.schemas import EventList, EventListQuery, EventOut, render_event
from postroom.kit.paging import FieldsDep, select_fields
from postroom.kit.responses import JSONResponse
from postroom.kit.routing import RetryingRoute

router = APIRouter(tags=["events"], route_class=RetryingRoute)


@router.get("/event/", responses={200: {"model": EventList}})
async def list_events(
    session: ReadOnlySessionDep,
    caller: ReadOnlyCallerDep,
    query: Annotated[EventListQuery, Query()],
    fields: FieldsDep,
) -> JSONResponse:
    page = await service.list_events(
        session, caller, query.to_filter(caller.tz), query.cursor, query.limit
    )
    return JSONResponse(
        {
            "data": [select_fields(render_event(event), fields) for event in page.events],
            "cursor_next": page.cursor_next,
            "cursor_previous": page.cursor_previous,
        }
    )


@router.get("/event/{event_id}/", responses={200: {"model": EventOut}})
async def read_event(
    event_id: str, session: ReadOnlySessionDep, caller: ReadOnlyCallerDep, fields: FieldsDep
) -> JSONResponse:
    event = await service.get_event(session, caller, event_id)
    return JSONResponse(select_fields(render_event(event), fields))
