"""The resume cursor of an event stream: opaque to clients, `<stream>:<position>` in base64url.

The stream's name travels in the cursor, so a cursor of the files stream handed to the prompts
service is refused instead of resuming somewhere unrelated.
"""

from __future__ import annotations

import base64
import binascii

from services.common.errors import InvalidArgument

# A position is a bigint; more characters than this cannot be one of ours.
MAX_CURSOR_CHARS = 128


def encode_cursor(stream: str, position: int) -> str:
    """The cursor of the event at `position` of `stream`."""
    return base64.urlsafe_b64encode(f"{stream}:{position}".encode()).decode().rstrip("=")


def decode_cursor(stream: str, cursor: str) -> int:
    """The position a cursor of `stream` names (0 for an empty cursor: before the first event)."""
    if not cursor:
        return 0
    invalid = InvalidArgument(
        f"after is not a cursor of the {stream} event stream", reason="INVALID_CURSOR", field="after"
    )
    if len(cursor) > MAX_CURSOR_CHARS:
        raise invalid
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise invalid from None
    tag, _, digits = text.partition(":")
    if tag != stream or not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        raise invalid
    return int(digits)
