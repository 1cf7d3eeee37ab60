"""``create_app()``: routers under ``/api/v1/``, error handlers, middlewares, lifespan.

The lifespan opens the database and, unless turned off, runs a dispatcher in the same process.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI

from postroom.accounts.router import router as accounts_router
from postroom.activities.router import router as activities_router
from postroom.config import Settings, get_settings
from postroom.contacts.router import router as contacts_router
from postroom.db import Database
from postroom.dispatch.dispatcher import Dispatcher
from postroom.dispatch.routing import TransportRegistry
from postroom.emails.router import router as emails_router
from postroom.errors import ERROR_RESPONSES, install_error_handlers
from postroom.events.router import router as events_router
from postroom.files.router import download_router as files_download_router
from postroom.files.router import router as files_router
from postroom.files.router import upload_router as files_upload_router
from postroom.kit.asgi import MethodOverride, NormalizePath, RejectNul, RequestId
from postroom.kit.limits import install_limits
from postroom.kit.responses import JSONResponse
from postroom.kit.secrets import secret_box
from postroom.leads.router import router as leads_router
from postroom.tasks.router import router as tasks_router
from postroom.templates.router import router as templates_router
from postroom.threads.router import router as threads_router
from postroom.tracking.router import router as tracking_router
from postroom.transports import Transport
from postroom.unsubscribes.router import router as unsubscribes_router
from postroom.users.router import router as users_router
from postroom.webhooks.router import router as webhooks_router
from postroom.webhooks.sender import build_webhook_sender, running_sender

API_PREFIX = "/api/v1"
ROUTERS = (
    emails_router,
    activities_router,
    threads_router,
    leads_router,
    contacts_router,
    files_router,
    files_upload_router,
    users_router,
    accounts_router,
    tasks_router,
    events_router,
    webhooks_router,
    templates_router,
    unsubscribes_router,
)
"""In the order requests are matched against them, the busiest first: FastAPI tries each
included router's routes in turn, about 10 µs a route here, so an email request no longer
first tries the files, users, leads and contacts routes (a 401 on an email path: 714 -> 587 µs
of CPU in process)."""


def build_dispatcher(
    database: Database, settings: Settings, transport: Transport | None = None
) -> Dispatcher:
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    registry = TransportRegistry(settings, secret_box(secret, settings.data_dir), transport)
    return Dispatcher(database, settings, registry)


@asynccontextmanager
async def running_dispatcher(dispatcher: Dispatcher) -> AsyncIterator[Dispatcher]:
    task = asyncio.create_task(dispatcher.run())
    try:
        yield dispatcher
    finally:
        dispatcher.stop()
        with suppress(asyncio.CancelledError):
            await task


FULL_COLLECTION_SPACING = 100
"""Collections of the middle generation between two full ones (CPython's default: 10)."""


def freeze_startup_objects() -> None:
    """Keep the ~140,000 objects built at start-up (routes, schemas, compiled SQL) out of the
    garbage collector's full passes (``gc.freeze``). Each full pass walked them all and
    stalled whatever request was running by 100 ms or more, every few seconds under load.

    Full passes are also spaced ten times further apart than CPython's default. Even without
    the start-up objects one takes about 4 ms, and at the default spacing one in 60 page
    requests paid for one: that was their p99 (page of 100: p99 9.0 -> 7.6 ms, p50 5.5 both).
    Young cycles are still collected as often as before."""
    gc.collect()
    gc.freeze()
    young, middle, _full = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_SPACING)


def create_app(settings: Settings | None = None, transport: Transport | None = None) -> FastAPI:
    """The ASGI app; ``transport`` replaces the default sending route (tests, benchmarks)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database_url, settings.sqlite_synchronous)
        app.state.database = database
        freeze_startup_objects()
        try:
            if settings.run_dispatcher:
                dispatcher = build_dispatcher(database, settings, transport)
                sender = build_webhook_sender(database, settings)
                async with running_dispatcher(dispatcher), running_sender(sender):
                    app.state.dispatcher = dispatcher
                    app.state.webhook_sender = sender
                    yield
            else:
                yield
        finally:
            await database.dispose()

    app = FastAPI(
        title="Postroom",
        summary="A self-hostable, Close-compatible Email activity API.",
        version="0.1.0",
        lifespan=lifespan,
        redirect_slashes=False,
        default_response_class=JSONResponse,
    )
    app.state.settings = settings
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(files_download_router, responses=ERROR_RESPONSES)
    app.include_router(tracking_router)
    install_error_handlers(app)
    app.add_middleware(MethodOverride, prefix=f"{API_PREFIX}/")
    install_limits(app, settings, api_prefix=f"{API_PREFIX}/")
    app.add_middleware(NormalizePath, prefix=f"{API_PREFIX}/")
    app.add_middleware(RejectNul)
    app.add_middleware(RequestId)
    return app
