"""Page sizes, opaque keyset cursors (AIP-158: a token encodes the last (create time, id) seen) and
the page a list use case returns, cut from `limit + 1` fetched rows."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from services.common.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(requested: int) -> int:
    """0 means the default; more than the maximum is clamped; negative is an error."""
    if requested < 0:
        raise InvalidArgument(f"page_size must not be negative, got {requested}", field="page_size")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_cursor(created_at: datetime, id_: uuid.UUID | str) -> str:
    raw = json.dumps([created_at.isoformat(), str(id_)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


Key = TypeVar("Key")


def decode_cursor(token: str, key: Callable[[str], Key] = uuid.UUID) -> tuple[datetime, Key] | None:  # type: ignore[assignment]
    """None for an empty token; InvalidArgument for one this server did not make. `key` parses the
    tie-breaking id (a UUID unless the rows are keyed by a name)."""
    if not token:
        return None
    try:
        created_at, id_ = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(id_, str):
            raise TypeError("the id of a cursor is a string")
        return datetime.fromisoformat(created_at), key(id_)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidArgument("page_token is not a token this server issued", field="page_token") from None


@dataclass(frozen=True)
class Page:
    items: Sequence[Any]
    next_page_token: str


def paged(
    rows: Sequence[Any],
    size: int,
    cursor: Callable[[Any], tuple[datetime, Any]] = lambda row: (row.created_at, row.id),
) -> Page:
    """A page of at most `size` rows from `size + 1` fetched, with the cursor of the last when there are
    more. `cursor` names the (time, id) pair the rows are ordered by."""
    if len(rows) <= size:
        return Page(items=rows, next_page_token="")
    return Page(items=rows[:size], next_page_token=encode_cursor(*cursor(rows[size - 1])))
