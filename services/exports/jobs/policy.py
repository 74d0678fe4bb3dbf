"""What becomes a job, when a failed job is tried again, and how long a client may wait. No I/O.

Datasets are always jobs: their size is unknown until they are read and grows with a user's whole
history (an admin's `all_users` one with everyone's). Artifacts are jobs above a row threshold, which
their lookup reports. Prompt sessions (at most a few hundred versions) and chats render in the
request that asks, as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.common.errors import (
    DepotError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from services.exports.rendering.work import Resolved
from services.exports.rules import ExportRequest, Source, parse_source

ALWAYS_QUEUED = ("datasets", "account")  # a takeout reads a whole account
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 2.0, 60.0
# Failures that another attempt cannot mend: the job fails at once with the reason.
DEFINITIVE: tuple[type[DepotError], ...] = (
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    FailedPrecondition,
    ResourceExhausted,
)


@dataclass(frozen=True)
class QueuePolicy:
    """Which exports a worker renders from the queue rather than the request that asked for them."""

    threshold_rows: int

    def queues(self, request: ExportRequest, resolved: Resolved) -> bool:
        if request.source.kind in ALWAYS_QUEUED:
            return True
        return resolved.rows is not None and resolved.rows > self.threshold_rows


def stored_request(*, source: str, fmt: str, options: dict[str, object]) -> ExportRequest:
    """The request a queued row was made from (validated and normalised when it was queued)."""
    parsed: Source = parse_source(source)
    return ExportRequest(parsed, fmt, dict(options))


def retries(exc: BaseException, *, attempts: int, max_attempts: int) -> bool:
    """Whether a job that failed with `exc` on attempt `attempts` goes back to the queue."""
    return attempts < max_attempts and not isinstance(exc, DEFINITIVE)


def retry_delay(attempts: int) -> float:
    """Seconds before a failed job may be taken again: doubling from 2 s, at most a minute."""
    return float(min(RETRY_FIRST_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS))


def wait_seconds(requested: float, *, bound: float) -> float:
    """How long to wait for an export to end: the request cut to the bound; negative is an error."""
    if requested < 0 or not math.isfinite(requested):
        raise InvalidArgument(f"wait must be 0 or more seconds, got {requested}", field="wait")
    return min(requested, bound)


def failure_reason(exc: BaseException) -> str:
    """What a failed export says about why, for a person (never a stack trace)."""
    if isinstance(exc, DepotError):
        return exc.message
    return f"rendering failed ({type(exc).__name__})"
