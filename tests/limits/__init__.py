"""Tests of request limits, overload, rate limiting and idempotency keys.

``running_app`` starts a second Postroom app on the test database with some settings changed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from postroom.app import create_app
from postroom.config import Settings


@asynccontextmanager
async def running_app(settings: Settings, **changes: Any) -> AsyncIterator[FastAPI]:
    """An app on ``settings`` with ``changes`` applied, its lifespan running."""
    application = create_app(settings.model_copy(update=changes))
    async with application.router.lifespan_context(application):
        yield application
