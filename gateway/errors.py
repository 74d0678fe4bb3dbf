"""One table from gRPC status to HTTP status, and the one JSON error body (DESIGN.md)."""

from __future__ import annotations

import logging
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.responses import Json
from services.common.channels import error_infos

log = logging.getLogger("depot.gateway")

HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 412,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 413,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# RESOURCE_EXHAUSTED means "too large" (413) unless a service's ErrorInfo says it is a rate limit
# (429). gRPC's own limits (a message over the size limit) carry no ErrorInfo: never a 429, which
# would tell the client to retry the same thing later.
_RATE_LIMIT_REASONS = {"RATE_LIMITED"}


class ApiError(Exception):
    """An error the gateway raises itself, rendered with the same body as service errors."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []
        self.headers = headers or {}


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def from_grpc(error: grpc.aio.AioRpcError) -> ApiError:
    """The HTTP rendering of a failed gRPC call; unknown codes become a bare 500."""
    code = error.code()
    details = error_infos(error)
    status = HTTP_STATUS.get(code, 500)
    headers: dict[str, str] = {}
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        limits = [d for d in details if d["reason"] in _RATE_LIMIT_REASONS]
        if limits:
            status = 429
            headers = _retry_after(limits[0])
        elif not details:
            log.warning("upstream_message_too_large", extra={"grpc_message": error.details()})
            return ApiError(
                413,
                code.name,
                "the request or its answer is larger than one message between Depot's services may be",
                [{"reason": "MESSAGE_TOO_LARGE", "domain": "depot", "metadata": {}}],
            )
    if status == 500:
        log.error("upstream_error", extra={"grpc_code": code.name, "grpc_message": error.details()})
        return ApiError(500, "INTERNAL", "internal error")
    return ApiError(status, code.name, error.details() or code.name, details, headers)


def _retry_after(limit: dict[str, Any]) -> dict[str, str]:
    """Retry-After as the service's rate limit states it (its `retry_after` seconds), on any route."""
    seconds = str(limit["metadata"].get("retry_after", ""))
    return {"Retry-After": seconds} if seconds.isdigit() else {}


def _location(error: Any) -> str:
    """Where a validation error is: the field's location, and within a free-form JSON value its path."""
    field = ".".join(str(p) for p in error["loc"] if p != "body") or "body"
    return field + str((error.get("ctx") or {}).get("path", ""))


def respond(error: ApiError) -> Json:
    return Json(
        error_body(error.code, error.message, error.details),
        status_code=error.status,
        headers=error.headers or None,
    )


def install(app: FastAPI) -> None:
    """Every error path of the gateway answers with the DESIGN.md error body."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Json:
        return respond(exc)

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _grpc_error(_: Request, exc: grpc.aio.AioRpcError) -> Json:
        return respond(from_grpc(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Json:
        details = [{"field": _location(e), "reason": e["msg"]} for e in exc.errors()]
        first = details[0] if details else {"field": "body", "reason": "invalid"}
        message = f"{first['field']}: {first['reason']}"
        return Json(error_body("INVALID_ARGUMENT", message, details), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Json:
        codes = {
            404: "NOT_FOUND",
            405: "METHOD_NOT_ALLOWED",
            413: "PAYLOAD_TOO_LARGE",
            401: "UNAUTHENTICATED",
        }
        code = codes.get(exc.status_code, "INVALID_ARGUMENT" if exc.status_code < 500 else "INTERNAL")
        return Json(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Json:
        log.error("gateway_error", exc_info=exc)
        return Json(error_body("INTERNAL", "internal error"), status_code=500)


async def first_message(call: Any, service: str) -> tuple[Any, Any]:
    """The first message of a server stream (its metadata) and the iterator for the rest."""
    messages = call.__aiter__()
    try:
        return await messages.__anext__(), messages
    except grpc.aio.AioRpcError as exc:
        raise from_grpc(exc) from None
    except StopAsyncIteration:
        raise ApiError(502, "INTERNAL", f"the {service} service sent no metadata") from None
