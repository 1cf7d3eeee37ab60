"""What a started server does once before its first request."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from postroom.app import FULL_COLLECTION_SPACING


async def test_objects_built_at_start_up_are_kept_out_of_full_collections(app: FastAPI) -> None:
    # The app fixture has run the lifespan; its routes and schemas must sit in the permanent
    # generation, or every full collection walks them (100+ ms stalls under load).
    assert gc.get_freeze_count() > 10_000
    frozen = gc.get_freeze_count()
    gc.collect()
    assert gc.get_freeze_count() == frozen


async def test_full_collections_are_spaced_out(app: FastAPI) -> None:
    # A full pass still costs milliseconds; at CPython's default spacing it was the p99 of
    # list requests. Young collections keep their default thresholds.
    young, middle, full = gc.get_threshold()
    assert (young, middle) == (700, 10)
    assert full == FULL_COLLECTION_SPACING > 10
