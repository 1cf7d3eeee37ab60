"""HTTP for ``/contact/``: parse, call one service function, return."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from postroom.contacts import service
from postroom.contacts.schemas import (
    ContactCreate,
    ContactList,
    ContactOut,
    ContactUpdate,
    render_contact,
)
from postroom.dependencies import CallerDep, ReadOnlyCallerDep, ReadOnlySessionDep, SessionDep
from postroom.kit.paging import FieldsDep, PageDep, page_body, select_fields, split_csv
from postroom.kit.responses import JSONResponse
from postroom.kit.routing import RetryingRoute

router = APIRouter(tags=["contacts"], route_class=RetryingRoute)


@router.get("/contact/", responses={200: {"model": ContactList}})
async def list_contacts(
    session: ReadOnlySessionDep,
    caller: ReadOnlyCallerDep,
    page: PageDep,
    fields: FieldsDep,
    lead_id: Annotated[
        list[str] | None, Query(description="Comma-separated lead ids; repeated, every one.")
    ] = None,
) -> JSONResponse:
    lead_ids = split_csv(",".join(lead_id)) if lead_id is not None else None
    contacts = await service.list_contacts(session, caller, page.skip, page.limit + 1, lead_ids)
    return JSONResponse(page_body(contacts, page, render_contact, fields))


@router.post("/contact/", responses={200: {"model": ContactOut}})
async def create_contact(
    body: ContactCreate, session: SessionDep, caller: CallerDep, fields: FieldsDep
) -> JSONResponse:
    view = await service.create_contact(session, caller, body)
    return JSONResponse(select_fields(render_contact(view), fields))


@router.get("/contact/{contact_id}/", responses={200: {"model": ContactOut}})
async def read_contact(
    contact_id: str, session: ReadOnlySessionDep, caller: ReadOnlyCallerDep, fields: FieldsDep
) -> JSONResponse:
    view = await service.read_contact(session, caller, contact_id)
    return JSONResponse(select_fields(render_contact(view), fields))


@router.put("/contact/{contact_id}/", responses={200: {"model": ContactOut}})
async def update_contact(
    contact_id: str, body: ContactUpdate, session: SessionDep, caller: CallerDep, fields: FieldsDep
) -> JSONResponse:
    view = await service.update_contact(session, caller, contact_id, body)
    return JSONResponse(select_fields(render_contact(view), fields))


@router.delete("/contact/{contact_id}/")
async def delete_contact(contact_id: str, session: SessionDep, caller: CallerDep) -> JSONResponse:
    await service.delete_contact(session, caller, contact_id)
    return JSONResponse({})
