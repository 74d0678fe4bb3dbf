"""One table from gRPC status to HTTP status, and the one JSON error body (DESIGN.md)."""

from __future__ import annotations

import logging
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from google.rpc import error_details_pb2, status_pb2
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.responses import Json

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
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# RESOURCE_EXHAUSTED means "too large" (413) unless the reason says it is a rate limit (429).
_TOO_LARGE_REASONS = {"TOO_LARGE", "FILE_TOO_LARGE", "BODY_TOO_LARGE"}


class ApiError(Exception):
    """An error the gateway raises itself, rendered with the same body as service errors."""

    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def _error_infos(error: grpc.aio.AioRpcError) -> list[dict[str, Any]]:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            infos = []
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    infos.append(
                        {"reason": info.reason, "domain": info.domain, "metadata": dict(info.metadata)}
                    )
            return infos
    return []


def from_grpc(error: grpc.aio.AioRpcError) -> ApiError:
    """The HTTP rendering of a failed gRPC call; unknown codes become a bare 500."""
    code = error.code()
    details = _error_infos(error)
    status = HTTP_STATUS.get(code, 500)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and any(d["reason"] in _TOO_LARGE_REASONS for d in details):
        status = 413
    if status == 500:
        log.error("upstream_error", extra={"grpc_code": code.name, "grpc_message": error.details()})
        return ApiError(500, "INTERNAL", "internal error")
    return ApiError(status, code.name, error.details() or code.name, details)


def respond(error: ApiError, headers: dict[str, str] | None = None) -> Json:
    return Json(
        error_body(error.code, error.message, error.details), status_code=error.status, headers=headers
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
        details = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body") or "body", "reason": e["msg"]}
            for e in exc.errors()
        ]
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
