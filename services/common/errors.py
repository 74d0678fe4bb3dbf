"""The few typed errors services raise. One interceptor turns them into gRPC statuses.

Each carries the name of a gRPC status code and an UPPER_SNAKE reason that ends up in an
AIP-193 ErrorInfo, so clients can branch on the reason rather than parse the message. The
code is a name, not a `grpc.StatusCode`, so that domain rules never import grpc.
"""

from __future__ import annotations

from typing import Any

# A status message travels in a trailer twice (percent-encoded in grpc-message, again inside the
# status details), and a client takes at most 8 KiB of metadata: whatever a message says is cut
# to this many bytes of UTF-8, an ErrorInfo metadata value to MAX_DETAIL_BYTES.
MAX_MESSAGE_BYTES = 1024
MAX_DETAIL_BYTES = 256
# How much of a client's value a message repeats.
MAX_ECHO_CHARS = 80


def bounded(text: str, limit: int = MAX_MESSAGE_BYTES) -> str:
    """`text` cut to at most `limit` bytes of UTF-8 (ending in "…"), lone surrogates escaped."""
    encoded = text.encode("utf-8", "backslashreplace")
    if len(encoded) <= limit:
        return encoded.decode()
    return encoded[: limit - 3].decode("utf-8", "ignore") + "…"


def echo(value: Any, limit: int = MAX_ECHO_CHARS) -> str:
    """A client's value for a message, as repr() shows it, shortened: `'xxxxx…' (8000 characters)`."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value)} characters)"
    shown = repr(value)
    return shown if len(shown) <= limit else shown[:limit] + "…"


class DepotError(Exception):
    """Base of the errors that cross the service boundary; `message` is for a person."""

    code = "INTERNAL"
    default_reason = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        field: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.field = field
        # More ErrorInfo metadata for clients that act on numbers (a quota and the usage), not prose.
        self.metadata = metadata or {}


class InvalidArgument(DepotError):
    code = "INVALID_ARGUMENT"
    default_reason = "INVALID_ARGUMENT"


class NotFound(DepotError):
    code = "NOT_FOUND"
    default_reason = "NOT_FOUND"


class AlreadyExists(DepotError):
    code = "ALREADY_EXISTS"
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(DepotError):
    code = "FAILED_PRECONDITION"
    default_reason = "FAILED_PRECONDITION"


class Aborted(DepotError):
    """The resource changed under a long read or a race; the caller may start again."""

    code = "ABORTED"
    default_reason = "ABORTED"


class PermissionDenied(DepotError):
    code = "PERMISSION_DENIED"
    default_reason = "PERMISSION_DENIED"


class Unauthenticated(DepotError):
    code = "UNAUTHENTICATED"
    default_reason = "UNAUTHENTICATED"


class ResourceExhausted(DepotError):
    code = "RESOURCE_EXHAUSTED"
    default_reason = "RESOURCE_EXHAUSTED"


class Unavailable(DepotError):
    code = "UNAVAILABLE"
    default_reason = "UNAVAILABLE"
