"""HTTP for ``/lead/``: parse, call one service function, return."""

from __future__ import annotations

from fastapi import APIRouter, Query

from postroom.dependencies import (
    CallerDep,
    ReadOnlyCallerDep,
    ReadOnlySessionDep,
    SessionDep,
    SettingsDep,
)
from postroom.kit.paging import FieldsDep, PageDep, page_body, select_fields
from postroom.kit.responses import JSONResponse
from postroom.kit.routing import RetryingRoute
from postroom.leads import service
from postroom.leads.schemas import LeadCreate, LeadList, LeadOut, LeadUpdate, LeadView, render_lead

router = APIRouter(tags=["leads"], route_class=RetryingRoute)


@router.get("/lead/", responses={200: {"model": LeadList}})
async def list_leads(
    session: ReadOnlySessionDep,
    caller: ReadOnlyCallerDep,
    settings: SettingsDep,
    page: PageDep,
    fields: FieldsDep,
    query: str | None = Query(
        default=None, description="Close's lead search: not supported, a non-blank value is a 400."
    ),
) -> JSONResponse:
    views = await service.list_leads(session, caller, page.skip, page.limit + 1, query)

    def render(view: LeadView) -> dict[str, object]:
        return render_lead(view, settings.public_url)

    return JSONResponse(page_body(views, page, render, fields))


@router.post("/lead/", responses={200: {"model": LeadOut}})
async def create_lead(
    body: LeadCreate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    fields: FieldsDep,
) -> JSONResponse:
    view = await service.create_lead(session, caller, body)
    return JSONResponse(select_fields(render_lead(view, settings.public_url), fields))


@router.get("/lead/{lead_id}/", responses={200: {"model": LeadOut}})
async def read_lead(
    lead_id: str,
    session: ReadOnlySessionDep,
    caller: ReadOnlyCallerDep,
    settings: SettingsDep,
    fields: FieldsDep,
) -> JSONResponse:
    view = await service.get_lead(session, caller, lead_id)
    return JSONResponse(select_fields(render_lead(view, settings.public_url), fields))


@router.put("/lead/{lead_id}/", responses={200: {"model": LeadOut}})
async def update_lead(
    lead_id: str,
    body: LeadUpdate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    fields: FieldsDep,
) -> JSONResponse:
    view = await service.update_lead(session, caller, lead_id, body)
    return JSONResponse(select_fields(render_lead(view, settings.public_url), fields))


@router.delete("/lead/{lead_id}/")
async def delete_lead(lead_id: str, session: SessionDep, caller: CallerDep) -> JSONResponse:
    await service.delete_lead(session, caller, lead_id)
    return JSONResponse({})
