"""The JSON response class of the gateway (orjson: fast, and RFC 3339 for datetimes)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class Json(JSONResponse):
    """A JSONResponse (so the OpenAPI schema documents each route's response model) rendered by orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
