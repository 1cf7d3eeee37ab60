"""HTTP for ``/email_template/``: parse, call one service function, return."""

from __future__ import annotations

from typing import Annotated

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
from postroom.templates import service
from postroom.templates.repository import TemplateFilter
from postroom.templates.schemas import (
    EmailTemplateCreate,
    EmailTemplateList,
    EmailTemplateOut,
    EmailTemplateUpdate,
    RenderedEmailTemplate,
    render_email_template,
    render_preview,
)

router = APIRouter(tags=["email templates"], route_class=RetryingRoute)


@router.get("/email_template/", responses={200: {"model": EmailTemplateList}})
async def list_email_templates(
    session: ReadOnlySessionDep,
    caller: ReadOnlyCallerDep,
    page: PageDep,
    fields: FieldsDep,
    is_archived: Annotated[bool | None, Query()] = None,
    is_shared: Annotated[bool | None, Query()] = None,
) -> JSONResponse:
    where = TemplateFilter(is_archived=is_archived, is_shared=is_shared)
    templates = await service.list_templates(session, caller, where, page.skip, page.limit + 1)
    return JSONResponse(page_body(templates, page, render_email_template, fields))


@router.post("/email_template/", responses={200: {"model": EmailTemplateOut}})
async def create_email_template(
    body: EmailTemplateCreate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    fields: FieldsDep,
) -> JSONResponse:
    template = await service.create_template(session, caller, body, settings.max_file_bytes)
    return JSONResponse(select_fields(render_email_template(template), fields))


@router.get("/email_template/{template_id}/", responses={200: {"model": EmailTemplateOut}})
async def read_email_template(
    template_id: str, session: ReadOnlySessionDep, caller: ReadOnlyCallerDep, fields: FieldsDep
) -> JSONResponse:
    template = await service.get_template(session, caller, template_id)
    return JSONResponse(select_fields(render_email_template(template), fields))


@router.put("/email_template/{template_id}/", responses={200: {"model": EmailTemplateOut}})
async def update_email_template(
    template_id: str,
    body: EmailTemplateUpdate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    fields: FieldsDep,
) -> JSONResponse:
    template = await service.update_template(
        session, caller, template_id, body, settings.max_file_bytes
    )
    return JSONResponse(select_fields(render_email_template(template), fields))


@router.delete("/email_template/{template_id}/")
async def delete_email_template(
    template_id: str, session: SessionDep, caller: CallerDep
) -> JSONResponse:
    await service.delete_template(session, caller, template_id)
    return JSONResponse({})


@router.get(
    "/email_template/{template_id}/render/", responses={200: {"model": RenderedEmailTemplate}}
)
async def render_email_template_for(
    template_id: str,
    session: ReadOnlySessionDep,
    caller: ReadOnlyCallerDep,
    lead_id: Annotated[str | None, Query(max_length=64)] = None,
    contact_id: Annotated[str | None, Query(max_length=64)] = None,
    query: Annotated[
        str | None,
        Query(description="Close's search form: not supported, a non-blank value is a 400."),
    ] = None,
) -> JSONResponse:
    target = service.PreviewTarget(lead_id, contact_id, query)
    preview = await service.preview_template(session, caller, template_id, target)
    return JSONResponse(render_preview(preview))
