"""The JSON response every endpoint returns, encoded by ``kit.jsoncodec``."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse as StarletteJSONResponse

from postroom.kit import jsoncodec


class JSONResponse(StarletteJSONResponse):
    """Starlette's JSONResponse with the same compact UTF-8 output, encoded in Rust."""

    def render(self, content: Any) -> bytes:
        return jsoncodec.dumps(content)
