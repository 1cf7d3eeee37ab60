"""``GET /t/o/<token>.gif``: the open-tracking pixel (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from postroom.dependencies import SessionDep
from postroom.kit.datetimes import utcnow
from postroom.kit.routing import RetryingRoute
from postroom.tracking.service import PIXEL_GIF, record_open

router = APIRouter(tags=["tracking"], include_in_schema=False, route_class=RetryingRoute)

NO_CACHE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0"}


@router.get("/t/o/{token}.gif")
async def open_pixel(token: str, request: Request, session: SessionDep) -> Response:
    clock = getattr(request.app.state, "clock", utcnow)
    client = request.client.host if request.client else None
    await record_open(session, token, client, request.headers.get("user-agent"), clock())
    return Response(PIXEL_GIF, media_type="image/gif", headers=NO_CACHE)
