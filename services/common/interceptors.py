"""The one server interceptor every service installs: authentication, errors and metrics.

It wraps each handler so that (1) the bearer token in the metadata is verified before the
handler runs and the principal is available through `current_principal()`, (2) a DepotError
becomes its gRPC status with an AIP-193 ErrorInfo, a lost database becomes UNAVAILABLE, and
anything else is logged once with its traceback and returned as INTERNAL with none, and
(3) every call is counted and timed.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import psycopg
import psycopg_pool
import sqlalchemy.exc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.common.auth import Principal, TokenVerifier
from services.common.database import set_call_deadline
from services.common.errors import (
    MAX_DETAIL_BYTES,
    DepotError,
    InvalidArgument,
    Unauthenticated,
    Unavailable,
    bounded,
)
from services.common.metrics import RpcMetrics

log = logging.getLogger("depot.rpc")

_PRINCIPAL: contextvars.ContextVar[Principal] = contextvars.ContextVar("depot_principal")

# Health and reflection answer without a token (probes and grpcurl carry none).
PUBLIC_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

# Failures of the database connection, not of the request: the caller may retry.
_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg_pool.PoolTimeout,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    ConnectionError,
)


def current_principal() -> Principal:
    """The verified caller of the RPC being handled."""
    return _PRINCIPAL.get()


def bearer_token(metadata: tuple[tuple[str, str | bytes], ...] | None) -> str:
    """The token of an `authorization: Bearer …` metadata entry, or Unauthenticated."""
    for key, value in metadata or ():
        if key == "authorization":
            scheme, _, token = str(value).partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("authorization must be `Bearer <token>`")
            return token.strip()
    raise Unauthenticated("missing bearer token")


def _status_for(error: DepotError) -> grpc.Status:
    """The status of an error, its texts cut so that they always fit in the trailers: a message
    that echoes a client's 8,000-character id must not turn NOT_FOUND into a metadata overflow."""
    info = error_details_pb2.ErrorInfo(reason=bounded(error.reason, MAX_DETAIL_BYTES), domain="depot")
    if error.field:
        info.metadata["field"] = bounded(error.field, MAX_DETAIL_BYTES)
    for key, value in list(error.metadata.items())[:8]:
        info.metadata[bounded(key, MAX_DETAIL_BYTES)] = bounded(value, MAX_DETAIL_BYTES)
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(
        code=grpc.StatusCode[error.code].value[0], message=bounded(error.message), details=[detail]
    )
    return rpc_status.to_status(status)


class ServiceInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Authentication, deadlines, error mapping and metrics around every RPC of ours; a public
    method (authorised by what its request carries, e.g. a share link's token) skips only the
    bearer token check."""

    def __init__(
        self,
        verifier: TokenVerifier,
        metrics: RpcMetrics,
        *,
        public_methods: frozenset[str] = frozenset(),
        refused_stream_bytes: int = 0,
    ) -> None:
        self._verifier = verifier
        self._metrics = metrics
        self._public_methods = public_methods
        # How much of a refused client stream is read and dropped so its client hears the error; a
        # longer stream is cut off.
        self._refused_stream_bytes = refused_stream_bytes
        # Wrapped handlers by method, built on a method's first call rather than on every call.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method.startswith(PUBLIC_METHOD_PREFIXES):
            return handler
        cached = self._wrapped.get(details.method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(
            details.method.rsplit("/", 1)[-1], handler, public=details.method in self._public_methods
        )
        self._wrapped[details.method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler, *, public: bool) -> grpc.RpcMethodHandler:
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary, public=public),
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream, public=public),
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=_encoded_or(handler.response_serializer),
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap_unary(method, handler.stream_unary, public=public, client_streaming=True),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            self._wrap_stream(method, handler.stream_stream, public=public),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _authenticate(self, method: str, context: grpc.aio.ServicerContext, *, public: bool) -> None:
        set_call_deadline(context.time_remaining())
        if public:
            return
        principal = self._verifier.verify(bearer_token(context.invocation_metadata()))
        _PRINCIPAL.set(principal)
        if principal.actor is not None:
            # A service acting for a user: every such call is on record, with both names.
            log.info(
                "rpc_acted_for",
                extra={
                    "method": method,
                    "user": principal.user_id,
                    "actor": principal.actor,
                    "admin": principal.is_admin,
                },
            )

    def _wrap_unary(
        self,
        method: str,
        behavior: Callable[..., Awaitable[Any]],
        *,
        public: bool,
        client_streaming: bool = False,
    ) -> Callable[..., Awaitable[Any]]:
        metrics = _MethodMetrics(self._metrics, method)

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started, code = time.perf_counter(), "OK"
            try:
                self._authenticate(method, context, public=public)
                _refuse_undecodable(request)
                return await behavior(request, context)
            except grpc.aio.AbortError:
                code = "ABORTED_BY_HANDLER"
                raise
            except Exception as exc:
                error = _as_depot_error(method, exc)
                code = error.code
                if client_streaming:
                    # Ending a call while its client still sends makes grpc.aio clients report
                    # INTERNAL instead of this error (grpc/grpc#36066): take in the rest first.
                    await _discard(request, limit=self._refused_stream_bytes)
                await _abort(context, error)
            finally:
                metrics.observe(code, time.perf_counter() - started)

        return unary

    def _wrap_stream(
        self, method: str, behavior: Callable[..., AsyncIterator[Any]], *, public: bool
    ) -> Callable[..., AsyncIterator[Any]]:
        metrics = _MethodMetrics(self._metrics, method)

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            started, code = time.perf_counter(), "OK"
            try:
                self._authenticate(method, context, public=public)
                _refuse_undecodable(request)
                async for response in behavior(request, context):
                    yield response
            except grpc.aio.AbortError:
                code = "ABORTED_BY_HANDLER"
                raise
            except Exception as exc:
                error = _as_depot_error(method, exc)
                code = error.code
                await _abort(context, error)
            finally:
                metrics.observe(code, time.perf_counter() - started)

        return stream


class _MethodMetrics:
    """One method's series, looked up once per method and status rather than by their labels on
    every call (prometheus_client's labels() takes a lock and builds a key each time)."""

    def __init__(self, metrics: RpcMetrics, method: str) -> None:
        self._metrics, self._method = metrics, method
        self._duration = metrics.duration.labels(method=method)
        self._requests: dict[str, Any] = {}

    def observe(self, code: str, seconds: float) -> None:
        requests = self._requests.get(code)
        if requests is None:
            requests = self._requests[code] = self._metrics.requests.labels(method=self._method, code=code)
        requests.inc()
        self._duration.observe(seconds)


def _encoded_or(serializer: Callable[[Any], bytes] | None) -> Callable[[Any], bytes] | None:
    """The method's serializer, except that a response the handler already encoded (bytes) goes out
    as it is: a download chunk encoded by hand is copied once, where protobuf copies it into the
    message and again into its serialization (services/exports/messages.encoded_chunk)."""
    if serializer is None:
        return None

    def serialize(response: Any) -> bytes:
        return response if type(response) is bytes else serializer(response)

    return serialize


class _Undecodable:
    """A request the server could not parse: protobuf's nesting limit (~100 levels, a Struct of
    about 33), or bytes that are no such message."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """The deserializer of a single-message request, its failure kept for the wrapper to refuse as
    INVALID_ARGUMENT (gRPC itself would answer UNKNOWN with the parser's words)."""
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # DecodeError, or whatever a custom deserializer raises
            return _Undecodable(exc)

    return deserialize


def _refuse_undecodable(request: Any) -> None:
    if isinstance(request, _Undecodable):
        raise InvalidArgument(
            "the request could not be parsed: it nests too deeply (JSON values at most 32 levels) "
            "or is not this method's message",
            reason="UNPARSABLE_REQUEST",
        )


async def _discard(requests: AsyncIterator[Any], *, limit: int) -> None:
    """Reads and drops a refused call's request messages until the client is done or `limit` bytes went by."""
    dropped = 0
    async for message in requests:
        dropped += message.ByteSize()
        if dropped > limit:
            return


def _as_depot_error(method: str, exc: Exception) -> DepotError:
    """What the caller is told: our own errors as they are, a lost database as UNAVAILABLE, else INTERNAL."""
    if isinstance(exc, DepotError):
        return exc
    if isinstance(exc, psycopg.DataError):
        # SQLSTATE class 22 and the driver's own refusals (a NUL in text, a number out of range):
        # the value the caller sent cannot be stored or compared, which is the caller's to fix.
        log.warning("invalid_data", extra={"method": method, "error": type(exc).__name__})
        return InvalidArgument(f"a value cannot be stored: {str(exc).splitlines()[0]}", reason="INVALID_DATA")
    if isinstance(exc, _UNAVAILABLE_ERRORS):
        log.warning("database_unavailable", extra={"method": method, "error": type(exc).__name__})
        return Unavailable("the database is unavailable; retry shortly", reason="DATABASE_UNAVAILABLE")
    log.error("rpc_failed", exc_info=exc, extra={"method": method})
    return DepotError("internal error")


async def _abort(context: grpc.aio.ServicerContext, error: DepotError) -> None:
    status = _status_for(error)
    await context.abort(status.code, status.details, status.trailing_metadata)
