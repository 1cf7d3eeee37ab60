"""HTTP for ``/webhook/``: parse, authenticate, call one service function, return."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

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
from postroom.kit.secrets import SecretBox
from postroom.models import WebhookSubscription
from postroom.webhooks import service
from postroom.webhooks.schemas import (
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookOut,
    WebhookUpdate,
    render_subscription,
)

router = APIRouter(tags=["webhooks"], route_class=RetryingRoute)


async def box_of(settings: SettingsDep) -> SecretBox:
    return service.sealing_box(settings)


BoxDep = Annotated[SecretBox, Depends(box_of)]


def one_subscription(
    subscription: WebhookSubscription, fields: frozenset[str] | None
) -> JSONResponse:
    return JSONResponse(select_fields(render_subscription(subscription), fields))


@router.get("/webhook/", responses={200: {"model": WebhookList}})
async def list_webhooks(
    session: ReadOnlySessionDep, caller: ReadOnlyCallerDep, page: PageDep, fields: FieldsDep
) -> JSONResponse:
    found = await service.list_subscriptions(session, caller, page.skip, page.limit + 1)
    return JSONResponse(page_body(found, page, render_subscription, fields))


@router.post("/webhook/", status_code=201, responses={201: {"model": WebhookCreated}})
async def create_webhook(
    body: WebhookCreate, session: SessionDep, caller: CallerDep, settings: SettingsDep, box: BoxDep
) -> JSONResponse:
    created = await service.create_subscription(session, caller, body, settings, box)
    document = render_subscription(created.subscription)
    return JSONResponse({**document, "signature_key": created.signature_key}, status_code=201)


@router.get("/webhook/{subscription_id}/", responses={200: {"model": WebhookOut}})
async def read_webhook(
    subscription_id: str, session: ReadOnlySessionDep, caller: ReadOnlyCallerDep, fields: FieldsDep
) -> JSONResponse:
    subscription = await service.get_subscription(session, caller, subscription_id)
    return one_subscription(subscription, fields)


@router.put("/webhook/{subscription_id}/", responses={200: {"model": WebhookOut}})
async def update_webhook(
    subscription_id: str,
    body: WebhookUpdate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    fields: FieldsDep,
) -> JSONResponse:
    subscription = await service.update_subscription(
        session, caller, subscription_id, body, settings
    )
    return one_subscription(subscription, fields)


@router.delete("/webhook/{subscription_id}/")
async def delete_webhook(
    subscription_id: str, session: SessionDep, caller: CallerDep
) -> JSONResponse:
    await service.delete_subscription(session, caller, subscription_id)
    return JSONResponse({})
