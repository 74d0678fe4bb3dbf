"""The few typed errors services raise. One interceptor turns them into gRPC statuses.

Each carries the name of a gRPC status code and an UPPER_SNAKE reason that ends up in an
AIP-193 ErrorInfo, so clients can branch on the reason rather than parse the message. The
code is a name, not a `grpc.StatusCode`, so that domain rules never import grpc.
"""

from __future__ import annotations


class DepotError(Exception):
    """Base of the errors that cross the service boundary; `message` is for a person."""

    code = "INTERNAL"
    default_reason = "INTERNAL"

    def __init__(self, message: str, *, reason: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.field = field


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
