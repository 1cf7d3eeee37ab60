"""HTTP for ``/me/``, ``/user/`` and ``/organization/``: parse, call one service, return."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from postroom.dependencies import CallerDep, ReadOnlyCallerDep, ReadOnlySessionDep, SessionDep
from postroom.kit.paging import FieldsDep, PageDep, page_body, select_fields
from postroom.kit.responses import JSONResponse
from postroom.kit.routing import RetryingRoute
from postroom.models import User
from postroom.users import service
from postroom.users.schemas import (
    OrganizationOut,
    OrganizationUpdate,
    UserList,
    UserOut,
    render_organization,
    render_user,
)

router = APIRouter(tags=["users"], route_class=RetryingRoute)

ExpandQuery = Annotated[str | None, Query(alias="_expand", max_length=200)]


@router.get("/me/", responses={200: {"model": UserOut}})
async def read_me(
    session: ReadOnlySessionDep, caller: ReadOnlyCallerDep, fields: FieldsDep
) -> JSONResponse:
    user, organization = await service.get_me(session, caller)
    return JSONResponse(select_fields(render_user(user, organization), fields))


@router.get("/user/", responses={200: {"model": UserList}})
async def list_users(
    session: ReadOnlySessionDep,
    caller: ReadOnlyCallerDep,
    page: PageDep,
    fields: FieldsDep,
    order_by: Annotated[
        str | None,
        Query(
            alias="_order_by",
            max_length=100,
            description="last_name,first_name or first_name,last_name; default newest first.",
        ),
    ] = None,
) -> JSONResponse:
    found = await service.list_users(session, caller, page.skip, page.limit + 1, order_by)

    def render(user: User) -> dict[str, Any]:
        return render_user(user, found.organization)

    return JSONResponse(page_body(found.users, page, render, fields))


@router.get("/user/{user_id}/", responses={200: {"model": UserOut}})
async def read_user(
    user_id: str, session: ReadOnlySessionDep, caller: ReadOnlyCallerDep, fields: FieldsDep
) -> JSONResponse:
    user, organization = await service.get_user_with_organization(session, caller, user_id)
    return JSONResponse(select_fields(render_user(user, organization), fields))


@router.get("/organization/{organization_id}/", responses={200: {"model": OrganizationOut}})
async def read_organization(
    organization_id: str,
    session: ReadOnlySessionDep,
    caller: ReadOnlyCallerDep,
    fields: FieldsDep,
    expand: ExpandQuery = None,
) -> JSONResponse:
    expanded = service.expansions(expand)
    view = await service.get_organization_with_members(session, caller, organization_id)
    return organization_response(view, expanded, fields)


@router.put("/organization/{organization_id}/", responses={200: {"model": OrganizationOut}})
async def update_organization(
    organization_id: str,
    body: OrganizationUpdate,
    session: SessionDep,
    caller: CallerDep,
    fields: FieldsDep,
    expand: ExpandQuery = None,
) -> JSONResponse:
    expanded = service.expansions(expand)
    view = await service.update_organization(session, caller, organization_id, body)
    return organization_response(view, expanded, fields)


def organization_response(
    view: service.OrganizationView, expanded: frozenset[str], fields: frozenset[str] | None
) -> JSONResponse:
    document = render_organization(view.organization, view.members, view.lead_statuses, expanded)
    return JSONResponse(select_fields(document, fields))
