"""``create_app()``: routers under ``/api/v1/``, error handlers, middlewares, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from postroom.activities.router import router as activities_router
from postroom.config import Settings, get_settings
from postroom.contacts.router import router as contacts_router
from postroom.db import Database
from postroom.emails.router import router as emails_router
from postroom.errors import install_error_handlers
from postroom.kit.asgi import NormalizePath, RequestId
from postroom.leads.router import router as leads_router
from postroom.users.router import router as users_router

API_PREFIX = "/api/v1"
ROUTERS = (users_router, leads_router, contacts_router, emails_router, activities_router)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database_url, settings.sqlite_synchronous)
        app.state.database = database
        try:
            yield
        finally:
            await database.dispose()

    app = FastAPI(
        title="Postroom",
        summary="A self-hostable, Close-compatible Email activity API.",
        version="0.1.0",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.settings = settings
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    install_error_handlers(app)
    app.add_middleware(NormalizePath, prefix=f"{API_PREFIX}/")
    app.add_middleware(RequestId)
    return app
