"""Fuzz every operation of Postroom's own ``/openapi.json``: no 5xx, and every answer has a
documented status, content type and body."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import (
    FUZZ_SETTINGS,
    Seeded,
    Spec,
    fuzz_once,
    operation_labels,
    postroom_document,
)

BASE_URL = "http://testserver"

_specs: dict[int, Spec] = {}


async def served_spec(app: FastAPI) -> Spec:
    """The document ``GET /openapi.json`` serves, loaded once per app."""
    if id(app) not in _specs:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            response = await client.get("/openapi.json")
        assert response.status_code == 200
        _specs[id(app)] = Spec.from_document(response.json(), BASE_URL)
    return _specs[id(app)]


@pytest.mark.parametrize("label", operation_labels(postroom_document()))
@FUZZ_SETTINGS
@given(data=st.data())
async def test_operation_answers_as_documented(
    label: str, app: FastAPI, seeded: Seeded, data: st.DataObject
) -> None:
    await fuzz_once(await served_spec(app), label, seeded, data)
