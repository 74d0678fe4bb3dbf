"""The JSON response class of the gateway: a response model as its model says, other content by orjson."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import JSONResponse


class Json(JSONResponse):
    """A JSONResponse (so the OpenAPI schema documents each route's response model).

    A model (gateway/models) is written by its own serializer, so the body is what its schema
    documents; fields its `from_proto` did not set (a basis's figures that do not apply) are left out.
    """

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, BaseModel):
            return content.__pydantic_serializer__.to_json(content, exclude_unset=True)
        return orjson.dumps(content)
