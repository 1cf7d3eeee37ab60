"""What a started server does once before its first request."""

from __future__ import annotations

import gc

from fastapi import FastAPI


async def test_objects_built_at_start_up_are_kept_out_of_full_collections(app: FastAPI) -> None:
    # The app fixture has run the lifespan; its routes and schemas must sit in the permanent
    # generation, or every full collection walks them (100+ ms stalls under load).
    assert gc.get_freeze_count() > 10_000
    frozen = gc.get_freeze_count()
    gc.collect()
    assert gc.get_freeze_count() == frozen
