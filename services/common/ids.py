"""Resource ids as callers send them: a UUID, or nothing the caller owns."""

from __future__ import annotations

import uuid

from services.common.errors import NotFound, echo


def parse_id(value: str, what: str, *, field: str | None = None) -> uuid.UUID:
    """A UUID, or NotFound naming `what` (and the request's `field`, if given): a malformed id names
    nothing the caller owns (no 400 that would tell a prober ids have a shape); a long value is
    echoed shortened."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"no {what} with id {echo(value)}", field=field) from None
