"""HTTP for ``/connected_account/``: read-only, never shows a password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from postroom.accounts import service
from postroom.accounts.schemas import (
    ConnectedAccount,
    ConnectedAccountList,
    ConnectedAccountListQuery,
    render_account,
)
from postroom.dependencies import ReadOnlyCallerDep, ReadOnlySessionDep
from postroom.kit.paging import FieldsDep, PageDep, page_body, select_fields
from postroom.kit.responses import JSONResponse
from postroom.kit.routing import RetryingRoute

router = APIRouter(tags=["connected accounts"], route_class=RetryingRoute)


@router.get("/connected_account/", responses={200: {"model": ConnectedAccountList}})
async def list_connected_accounts(
    session: ReadOnlySessionDep,
    caller: ReadOnlyCallerDep,
    query: Annotated[ConnectedAccountListQuery, Query()],
    page: PageDep,
    fields: FieldsDep,
) -> JSONResponse:
    accounts = await service.list_accounts(
        session, caller, query.user_id, page.skip, page.limit + 1
    )
    return JSONResponse(page_body(accounts, page, render_account, fields))


@router.get("/connected_account/{account_id}/", responses={200: {"model": ConnectedAccount}})
async def read_connected_account(
    account_id: str, session: ReadOnlySessionDep, caller: ReadOnlyCallerDep, fields: FieldsDep
) -> JSONResponse:
    account = await service.get_account(session, caller, account_id)
    return JSONResponse(select_fields(render_account(account), fields))
