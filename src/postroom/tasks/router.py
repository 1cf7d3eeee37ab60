"""HTTP for ``/task/``: parse, call one service function, return."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from postroom.dependencies import CallerDep, ReadOnlyCallerDep, ReadOnlySessionDep, SessionDep
from postroom.kit.filters import openapi_query_parameters, validated_query
from postroom.kit.paging import FieldsDep, PageDep, page_body, select_fields
from postroom.kit.responses import JSONResponse
from postroom.kit.routing import RetryingRoute
from postroom.models import Task
from postroom.tasks import bulk, service
from postroom.tasks.schemas import (
    TaskBulkQuery,
    TaskBulkUpdate,
    TaskCreate,
    TaskList,
    TaskListQuery,
    TaskOut,
    TaskPage,
    TaskUpdate,
    render_task,
)

router = APIRouter(tags=["tasks"], route_class=RetryingRoute)


class EmptyObject(BaseModel):
    """``{}``: the answer of a bulk update."""


TASK_LIST_VALUED = frozenset({"id__in", "lead_id", "assigned_to", "_type", "_type__in"})
"""The comma-separated filters: sent repeated, each is every value sent."""


async def list_query(request: Request) -> TaskListQuery:
    return validated_query(TaskListQuery, request, TASK_LIST_VALUED)


async def bulk_query(request: Request) -> TaskBulkQuery:
    return validated_query(TaskBulkQuery, request, TASK_LIST_VALUED)


ListQueryDep = Annotated[TaskListQuery, Depends(list_query)]
BulkQueryDep = Annotated[TaskBulkQuery, Depends(bulk_query)]


def one_task(page: TaskPage, fields: frozenset[str] | None) -> JSONResponse:
    return JSONResponse(select_fields(render_task(page.tasks[0], page), fields))


@router.get(
    "/task/",
    responses={200: {"model": TaskList}},
    openapi_extra={"parameters": openapi_query_parameters(TaskListQuery)},
)
async def list_tasks(
    session: ReadOnlySessionDep,
    caller: ReadOnlyCallerDep,
    query: ListQueryDep,
    page: PageDep,
    fields: FieldsDep,
) -> JSONResponse:
    found = await service.list_tasks(session, caller, query, page.skip, page.limit + 1)

    def render(task: Task) -> dict[str, Any]:
        return render_task(task, found)

    return JSONResponse(page_body(found.tasks, page, render, fields))


@router.post("/task/", responses={200: {"model": TaskOut}})
async def create_task(
    body: TaskCreate, session: SessionDep, caller: CallerDep, fields: FieldsDep
) -> JSONResponse:
    return one_task(await service.create_task(session, caller, body), fields)


@router.put(
    "/task/",
    responses={200: {"model": EmptyObject}},
    openapi_extra={"parameters": openapi_query_parameters(TaskListQuery)},
)
async def update_tasks(
    query: BulkQueryDep, body: TaskBulkUpdate, session: SessionDep, caller: CallerDep
) -> JSONResponse:
    """Close's bulk update: the filters of ``GET /task/`` choose the tasks (at least one is
    needed; ``lead`` tasks only without ``_type``); ``assigned_to``, ``date`` and
    ``is_complete`` are the fields it may change. Answers ``{}``."""
    await bulk.update_tasks(session, caller, query, body)
    return JSONResponse({})


@router.get("/task/{task_id}/", responses={200: {"model": TaskOut}})
async def read_task(
    task_id: str, session: ReadOnlySessionDep, caller: ReadOnlyCallerDep, fields: FieldsDep
) -> JSONResponse:
    return one_task(await service.get_task(session, caller, task_id), fields)


@router.put("/task/{task_id}/", responses={200: {"model": TaskOut}})
async def update_task(
    task_id: str, body: TaskUpdate, session: SessionDep, caller: CallerDep, fields: FieldsDep
) -> JSONResponse:
    return one_task(await service.update_task(session, caller, task_id, body), fields)


@router.delete("/task/{task_id}/")
async def delete_task(task_id: str, session: SessionDep, caller: CallerDep) -> JSONResponse:
    await service.delete_task(session, caller, task_id)
    return JSONResponse({})
