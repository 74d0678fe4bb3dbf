"""What every REST route module uses: the upstream services, the documented errors, paging."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request

from gateway.models.common import INT32_MAX, Digits, ErrorOut
from gateway.upstream import Upstream
from services.common.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

# 413: a JSON body over DEPOT_MAX_REQUEST_BODY_BYTES (the body limit guards every route).
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (400, 401, 404, 413, 503)}
PageSize = Annotated[
    Digits,
    Query(
        ge=0,
        le=INT32_MAX,
        description=f"Items per page: 0 means {DEFAULT_PAGE_SIZE}, more than {MAX_PAGE_SIZE} means {MAX_PAGE_SIZE}.",
    ),
]
PageToken = Query(default="", max_length=512)


def upstream(request: Request) -> Upstream:
    return request.app.state.upstream  # type: ignore[no-any-return]
