"""Fuzz Postroom with Close's own published description of the operations it implements:
no 5xx, and every answer has a status, content type and body Close documents.

The description lives outside the repository (its prose is Close's, not ours):
``POSTROOM_CLOSE_OPENAPI`` names it, by default the shared spec folder. Without it the module
is skipped, and says why.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from postroom.app import API_PREFIX
from tests.fuzz.harness import (
    FUZZ_SETTINGS,
    HTTP_METHODS,
    Seeded,
    Spec,
    fuzz_once,
    operation_labels,
    postroom_document,
)

CLOSE_OPENAPI = Path(
    os.environ.get("POSTROOM_CLOSE_OPENAPI", "/work/shared/spec/close-openapi-subset.yaml")
)
BASE_URL = f"http://testserver{API_PREFIX}"
"""Close's ``servers`` say https://api.close.com/api/v1: the same paths, under the test app."""

if not CLOSE_OPENAPI.is_file():
    pytest.skip(f"no Close OpenAPI description at {CLOSE_OPENAPI}", allow_module_level=True)


def path_shape(path: str) -> str:
    """``/lead/{id}/`` and ``/lead/{lead_id}/`` are the same route."""
    return re.sub(r"\{[^}]+\}", "{}", path)


@cache
def close_document() -> dict[str, Any]:
    """Close's document cut down to the operations Postroom implements (Close's send-as is
    not Postroom's)."""
    document: dict[str, Any] = schemathesis.openapi.from_path(CLOSE_OPENAPI).raw_schema
    implemented = {
        (method, path_shape(path.removeprefix(API_PREFIX)))
        for path, item in postroom_document()["paths"].items()
        for method in item
    }
    paths: dict[str, Any] = {}
    for path, item in document["paths"].items():
        kept = {
            key: value
            for key, value in item.items()
            if key not in HTTP_METHODS or (key, path_shape(path)) in implemented
        }
        if HTTP_METHODS & set(kept):
            paths[path] = kept
    return {**document, "paths": paths, "servers": [{"url": BASE_URL}]}


@cache
def close_spec() -> Spec:
    return Spec.from_document(close_document(), BASE_URL)


@pytest.mark.parametrize("label", operation_labels(close_document()))
@FUZZ_SETTINGS
@given(data=st.data())
async def test_operation_answers_as_close_documents(
    label: str, app: FastAPI, seeded: Seeded, data: st.DataObject
) -> None:
    await fuzz_once(close_spec(), label, seeded, data)
